"""Loading a model (a champion or a rollout's candidate): verify, deserialize (skops
allowlist), warm. Runs in a worker thread."""

from __future__ import annotations

import math
from typing import Any
from uuid import UUID

from continuum.contracts import ModelArtifacts, PipelineSpec, utc_now
from continuum.modelkit import load_champion, read_reference_sample
from continuum.serving.enrichment import EnrichedModel, FeatureLookup
from continuum.serving.inference import MicroBatcher, predict_records
from continuum.serving.metrics import ArmMeter
from continuum.serving.models import ServingModel
from continuum.serving.validation import RecordValidator
from continuum.storage import ObjectStore


def load_and_warm(
    store: ObjectStore,
    *,
    pipeline: str,
    version: int,
    spec_version: int,
    spec: PipelineSpec,
    artifacts: ModelArtifacts,
    correlation_id: UUID,
    meter: ArmMeter,
    batch_max_rows: int = 1000,
    inline_max_rows: int = 0,
    features: FeatureLookup | None = None,
) -> ServingModel:
    """A ready model: every artifact's sha256 checked, the model loaded, one prediction made.

    Blocking (file reads, skops, sklearn): call it with ``asyncio.to_thread``. Raises
    ``continuum.storage.IntegrityError``, ``continuum.modelkit.UntrustedModelError``,
    ``continuum.storage.ObjectNotFoundError`` and whatever a broken artifact raises.
    """
    plain = load_champion(store, artifacts, spec, version)
    loaded = plain
    if features is not None:
        # A spec with feature views: each micro-batch reads them from the online store.
        loaded = EnrichedModel.wrap(plain, features.enricher(pipeline, spec))
    serving = ServingModel(
        pipeline=pipeline,
        version=version,
        spec_version=spec_version,
        model=loaded,
        validator=RecordValidator(spec),
        artifacts=artifacts,
        correlation_id=correlation_id,
        loaded_at=utc_now(),
        batcher=MicroBatcher(
            loaded,
            max_rows=batch_max_rows,
            inline_max_rows=inline_max_rows,
            observe=meter.inference.observe,
        ),
        meter=meter,
    )
    # The first prediction pays for lazy imports and allocations; do it here, not in a request.
    # Without the store: an unreachable online store must not refuse the model.
    predict_records(plain, [_warm_record(store, artifacts, spec)])
    return serving


def _warm_record(
    store: ObjectStore, artifacts: ModelArtifacts, spec: PipelineSpec
) -> dict[str, Any]:
    sample = read_reference_sample(store, artifacts)
    names = [n for n in spec.record_schema.feature_names if n in sample.columns]
    if sample.empty or not names:
        return {}  # every feature missing: the imputers still exercise the whole pipeline
    row = sample.iloc[0]
    return {n: _plain(row[n]) for n in names}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
