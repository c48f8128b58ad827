"""Test helpers: a spec, synthetic traffic, a reference in a memory store, a fake registry."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry

from continuum.contracts import (
    Event,
    ModelArtifacts,
    ModelPromoted,
    PipelineSpec,
    PredictionLogged,
)
from continuum.monitor.cooldown import CooldownStore
from continuum.monitor.drift import DriftDetector, DriftReport
from continuum.monitor.frames import FeatureLayout
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.monitor import Monitor
from continuum.registry_client.testing import FakeRegistry
from continuum.storage import MemoryObjectStore, ObjectStore

PIPELINE = "flights"
NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = ["carrier", "origin"]
CARRIERS = ["AA", "DL", "UA"]
ORIGINS = ["EWR", "JFK", "LGA"]
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def make_spec(
    *,
    window_rows: int = 200,
    threshold: float = 0.3,
    cooldown: float = 300,
    task: str = "binary_classification",
    numeric: list[str] | None = None,
) -> PipelineSpec:
    """A pipeline spec with 8 numeric and 2 categorical features."""
    regression = task == "regression"
    features: list[dict[str, Any]] = [{"name": n, "type": "numeric"} for n in numeric or NUMERIC]
    features += [{"name": c, "type": "categorical"} for c in CATEGORICAL]
    return PipelineSpec.model_validate(
        {
            "name": PIPELINE,
            "source_topic": "flights.raw",
            "task": task,
            "schema": {"features": features, "target": {"name": "late"}, "event_time": "ts"},
            "model": {"estimator": "Ridge" if regression else "LogisticRegression"},
            "promotion": {"metric": "rmse" if regression else "roc_auc"},
            "monitoring": {
                "window_rows": window_rows,
                "drift_share_threshold": threshold,
                "cooldown_seconds": cooldown,
            },
        }
    )


def traffic(n: int, *, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Synthetic rows; ``shift`` moves n0..n3 by that many std and skews ``carrier``."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i, name in enumerate(NUMERIC):
        data[name] = rng.normal(shift if i < 4 else 0.0, 1.0, n)
    carrier_p = [0.6, 0.3, 0.1] if shift == 0 else [0.1, 0.3, 0.6]
    data["carrier"] = rng.choice(CARRIERS, n, p=carrier_p)
    data["origin"] = rng.choice(ORIGINS, n)
    score = data["n0"] + data["n1"] + rng.normal(0, 1, n)
    data["prediction"] = (score > 0).astype(int)
    data["proba"] = 1 / (1 + np.exp(-score))
    return pd.DataFrame(data)


def reference_frame(n: int = 5000, seed: int = 1) -> pd.DataFrame:
    """What the trainer writes: feature columns plus ``prediction``."""
    frame = traffic(n, seed=seed)
    return frame[[*NUMERIC, *CATEGORICAL, "prediction"]]


def to_parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def put_artifacts(store: ObjectStore, version: int, reference: pd.DataFrame) -> ModelArtifacts:
    """A version's artifacts in ``store`` (only the reference sample is real)."""
    prefix = f"{PIPELINE}/v{version}"
    return ModelArtifacts(
        model=store.put(f"{prefix}/model.skops", b"model-v%d" % version),
        reference_sample=store.put(f"{prefix}/reference.parquet", to_parquet(reference)),
        model_card=store.put(f"{prefix}/card.json", b"{}"),
    )


def promotion(
    version: int, artifacts: ModelArtifacts, *, at: datetime | None = None
) -> ModelPromoted:
    return ModelPromoted(
        pipeline=PIPELINE,
        version=version,
        previous_version=version - 1 if version > 1 else None,
        artifacts=artifacts,
        reason="gate",
        occurred_at=at or datetime.now(UTC),
    )


def registry_promotes(
    registry: FakeRegistry,
    version: int,
    artifacts: ModelArtifacts,
    *,
    at: datetime | None = None,
) -> ModelPromoted:
    """The registry makes ``version`` the champion; returns the event it publishes."""
    registry.add_model(PIPELINE, version, artifacts, champion=True)
    return promotion(version, artifacts, at=at)


def predictions(
    frame: pd.DataFrame, *, version: int, start: datetime = T0, prefix: str = "r"
) -> list[PredictionLogged]:
    """One PredictionLogged per row, a second apart."""
    events = []
    for i, row in enumerate(frame.to_dict(orient="records")):
        features = {k: row[k] for k in (*NUMERIC, *CATEGORICAL) if k in row}
        proba = float(row.get("proba", 0.5))
        events.append(
            PredictionLogged(
                pipeline=PIPELINE,
                request_id=f"{prefix}-{i}",
                model_version=version,
                features=features,
                prediction=int(row["prediction"]),
                probabilities={"0": 1 - proba, "1": proba},
                entity_id=f"e-{prefix}-{i}",
                event_time=start + timedelta(seconds=i),
            )
        )
    return events


class RecordingDetector(DriftDetector):
    """A detector that reports a fixed drift share and remembers each window it saw."""

    def __init__(self, share: float = 0.0) -> None:
        self.share = share
        self.windows: list[pd.DataFrame] = []

    def detect(
        self, layout: FeatureLayout, window: pd.DataFrame, reference: pd.DataFrame
    ) -> DriftReport:
        from continuum.contracts import ColumnDrift

        self.windows.append(window)
        drifted = round(self.share * len(layout.features))
        columns = tuple(
            ColumnDrift(column=c, method="fake", score=1.0, threshold=0.5, drifted=i < drifted)
            for i, c in enumerate(layout.features)
        )
        return DriftReport(columns=columns, prediction=None, skipped=())


@dataclass
class Harness:
    """A Monitor on fakes: published events land in ``published``."""

    monitor: Monitor
    registry: FakeRegistry
    store: MemoryObjectStore
    metrics_registry: CollectorRegistry
    published: list[Event]
    clock: list[datetime]

    def sample(self, name: str, labels: dict[str, str]) -> float | None:
        return self.metrics_registry.get_sample_value(name, labels)


def harness(
    tmp_path: Any,
    *,
    spec: PipelineSpec | None = None,
    detector: DriftDetector | None = None,
    champion: int | None = 1,
    reference: pd.DataFrame | None = None,
) -> Harness:
    """A monitor whose registry knows ``spec`` and (optionally) champion v``champion``."""
    store = MemoryObjectStore(f"memory://monitor-{uuid4().hex}")
    registry = FakeRegistry()
    registry.apply(spec or make_spec())
    if champion is not None:
        artifacts = put_artifacts(
            store, champion, reference if reference is not None else reference_frame()
        )
        registry.add_model(PIPELINE, champion, artifacts, champion=True)
    published: list[Event] = []
    clock = [datetime.now(UTC)]

    async def publish(event: Event) -> None:
        published.append(event)

    metrics_registry = CollectorRegistry()
    monitor = Monitor(
        registry=registry.client(),
        store=store,
        publish=publish,
        metrics=MonitorMetrics(metrics_registry),
        cooldowns=CooldownStore(tmp_path),
        detector=detector,
        registry_retry_seconds=0.001,
        clock=lambda: clock[0],
    )
    return Harness(monitor, registry, store, metrics_registry, published, clock)
