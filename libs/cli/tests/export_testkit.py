"""A trained model in a store and a fake registry, for ``continuum export``'s tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from continuum.cli.bundle.export import fetch, write_bundle
from continuum.contracts import ESTIMATORS, DataVersion, ModelArtifacts, PipelineSpec
from continuum.modelkit import (
    LoadedModel,
    ModelCard,
    build_pipeline,
    build_reference_sample,
    dump_model,
    frame_to_parquet,
    labels,
    load_champion,
    records_to_frame,
)
from continuum.registry_client.testing import FakeRegistry
from continuum.storage import ObjectStore

ORIGINS = ["EWR", "JFK", "LGA", "01"]


def make_spec(estimator: str = "HistGradientBoostingClassifier") -> PipelineSpec:
    task = ESTIMATORS[estimator][1]
    return PipelineSpec.model_validate(
        {
            "name": "flights",
            "source_topic": "flights.records",
            "task": task,
            "schema": {
                "features": [
                    {"name": "dep_delay", "type": "numeric"},
                    {"name": "distance", "type": "numeric"},
                    {"name": "origin", "type": "categorical"},
                    {"name": "carrier", "type": "categorical"},
                    {"name": "gate", "type": "categorical"},
                ],
                "target": {"name": "late"},
                "event_time": "time_hour",
                "entity_id": "flight_id",
            },
            "model": {"estimator": estimator, "params": {}},
            "promotion": {"metric": "roc_auc" if task == "binary_classification" else "rmse"},
        }
    )


def make_records(n: int, seed: int) -> list[dict[str, Any]]:
    """Records as serving receives them: floats, string categories, some missing."""
    rng = random.Random(seed)
    return [
        {
            "flight_id": f"f-{seed}-{i}",
            "dep_delay": rng.uniform(-20, 120) if rng.random() > 0.05 else None,
            "distance": rng.uniform(100, 2500),
            "origin": rng.choice(ORIGINS),
            "carrier": rng.choice(["UA", "AA", "B6", "DL", "NA", None]),
            # Categories that look like numbers: a CSV reader must keep "07" apart from "7".
            "gate": rng.choice(["07", "7", "12", None]),
        }
        for i in range(n)
    ]


def train_artifacts(store: ObjectStore, spec: PipelineSpec, version: int) -> ModelArtifacts:
    """Fit a small real pipeline and store its model, reference sample and a real card."""
    rng = random.Random(version)
    records = make_records(400, seed=version)
    for r in records:
        delay = r["dep_delay"] if r["dep_delay"] is not None else 0.0
        late = delay + rng.gauss(0, 20) + 25 * (r["origin"] == "01") + 30 * (r["gate"] == "07") > 40
        r["late"] = int(late) if spec.task != "regression" else delay * 0.5 + rng.gauss(0, 3)
    frame = records_to_frame(spec, records)
    pipeline = build_pipeline(spec).fit(frame, labels(spec, records))
    prefix = f"{spec.name}/v{version}"
    card = ModelCard.model_validate(
        {
            "pipeline": spec.name,
            "run_id": f"run-{version}",
            "spec_version": 1,
            "task": spec.task,
            "estimator": spec.model.estimator,
            "metric": spec.promotion.metric,
            "metrics": {spec.promotion.metric: 0.8},
            "data_version": DataVersion.of([f"batch-{version}"]),
            "rows_train": len(records),
            "rows_holdout": 0,
        }
    )
    sample = build_reference_sample(spec, pipeline, frame)
    return ModelArtifacts(
        model=store.put(f"{prefix}/model.skops", dump_model(pipeline)),
        reference_sample=store.put(f"{prefix}/reference.parquet", frame_to_parquet(sample)),
        model_card=store.put(f"{prefix}/model_card.json", card.to_json_bytes()),
    )


@dataclass
class Trained:
    """A registry whose ``flights`` champion is version 2 (version 1 exists too)."""

    registry: FakeRegistry
    store: ObjectStore
    spec: PipelineSpec

    def serving_model(self, version: int = 2) -> LoadedModel:
        """The version as serving loads it."""
        artifacts = self.registry.models[("flights", version)].artifacts
        return load_champion(self.store, artifacts, self.spec, version)

    async def export(self, out: Path, version: int | None = None) -> Path:
        """``continuum export flights [--version V] OUT``, against this fake registry."""
        async with self.registry.client() as client:
            exported = await fetch(client, self.store, "flights", version)
        write_bundle(exported, out)
        return out


def trained(store: ObjectStore, estimator: str = "HistGradientBoostingClassifier") -> Trained:
    spec = make_spec(estimator)
    registry = FakeRegistry()
    registry.apply(spec)
    for version in (1, 2):
        registry.add_model("flights", version, train_artifacts(store, spec, version))
    registry.champions["flights"] = 2
    return Trained(registry, store, spec)


def serving_frame(model: LoadedModel, records: list[dict[str, Any]]) -> pd.DataFrame:
    """Serving's predictions for ``records`` in ``predict.py``'s columns."""
    from continuum.cli.bundle.export import reference_predictions

    return reference_predictions(model, records_to_frame(model.spec, records))
