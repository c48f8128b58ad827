"""Training with feature views: the views are joined point-in-time into every stored frame."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pandas as pd
from trainer_testkit import PIPELINE, make_rows, make_spec

from continuum.contracts import PipelineSpec
from continuum.modelkit import (
    ModelCard,
    join_views,
    labelled_rows,
    load_champion,
    parquet_to_frame,
)
from continuum.storage import get_verified, open_store
from continuum.trainer.jobs import JobBatch, TrainingJob, TriggerRef
from continuum.trainer.worker import train_run

VIEW_FEATURES = ["origin_rate", "origin_seen", "origin_last_hour"]


def spec_with_view() -> PipelineSpec:
    data: dict[str, Any] = make_spec().model_dump(by_alias=True)
    data["evaluation"] = {"slice_min_rows": 20, "slice_bins": 3}
    data["feature_views"] = [
        {
            "name": "origin_recent",
            "entity": "origin",
            "window_events": 50,
            "features": [
                {"name": "origin_rate", "function": "mean", "column": "late", "default": 0.5},
                {"name": "origin_seen", "function": "count"},
                {"name": "origin_last_hour", "function": "latest", "column": "dep_hour"},
            ],
        }
    ]
    return PipelineSpec.model_validate(data)


def test_a_run_trains_on_schema_and_view_features_and_stores_them() -> None:
    spec = spec_with_view()
    tag = uuid.uuid4().hex[:8]
    data, artifacts = open_store(f"memory://d-{tag}"), open_store(f"memory://a-{tag}")
    # Two batches: the second's first rows see the first batch's events as history.
    frames = [make_rows(300), make_rows(300, offset=300)]
    frames[1]["late"] = frames[1]["late"].astype(object)
    frames[1].loc[:20, "late"] = None  # unlabelled events are history too
    batches = []
    for i, frame in enumerate(frames):
        stored = data.put(f"b{i}.parquet", frame.to_parquet(index=False))
        batches.append(
            JobBatch(
                batch_id=f"b{i}", uri=stored.uri, sha256=stored.sha256, size_bytes=stored.size_bytes
            )
        )
    job = TrainingJob(
        pipeline=PIPELINE,
        run_id=uuid.uuid4().hex,
        spec=spec,
        spec_version=1,
        data_root=data.root_uri,
        artifact_root=artifacts.root_uri,
        batches=tuple(batches),
        champion=None,
        triggers=(TriggerRef(str(uuid.uuid4()), "manual", str(uuid.uuid4())),),
        reference_max_rows=500,
        report_max_rows=0,
        threads=1,
    )
    result = train_run(job)
    assert result.artifacts.holdout is not None

    everything = pd.concat(frames, ignore_index=True)
    expected = labelled_rows(spec, everything)
    holdout = parquet_to_frame(get_verified(artifacts, result.artifacts.holdout))
    tail = expected.tail(len(holdout)).reset_index(drop=True)
    for name in VIEW_FEATURES:
        np.testing.assert_allclose(holdout[name].to_numpy(float), tail[name].to_numpy(float))
    # The same values the join gives over all events, labelled or not.
    joined = join_views(everything, spec)
    assert joined["origin_seen"].max() == 50.0
    reference = parquet_to_frame(get_verified(artifacts, result.artifacts.reference_sample))
    assert set(VIEW_FEATURES) <= set(reference.columns)

    model = load_champion(artifacts, result.artifacts, spec, 1)
    preprocess = model.pipeline.named_steps["preprocess"]
    inputs = [c for _, _, columns in preprocess.transformers for c in columns]
    assert set(VIEW_FEATURES) <= set(inputs)
    card = ModelCard.model_validate_json(get_verified(artifacts, result.artifacts.model_card))
    assert card.slices is not None
    assert {s.feature for s in card.slices.slices} & set(VIEW_FEATURES)
