"""The registry app in memory for tests (HTTP through ``RegistryClient``, Kafka through
``TestKafkaBroker``, SQLite on disk, artifacts in a memory:// store) and real models of
graded quality, stored with their holdout as the trainer would."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import httpx
import pandas as pd
from fastapi import FastAPI
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from continuum.contracts import ModelArtifacts, ModelTrained, PipelineSpec, parse_spec_yaml
from continuum.contracts.topics import (
    MODELS_PROMOTED,
    MODELS_REGISTERED,
    MODELS_TRAINED,
    PIPELINES_CHANGED,
    ROLLOUTS,
    TRAINING_REQUESTS,
    dlq_topic,
)
from continuum.kafka import KafkaSettings, publish_event
from continuum.modelkit import (
    build_pipeline,
    build_reference_sample,
    dump_model,
    feature_columns,
    frame_to_parquet,
    labels,
    load_model,
    records_to_frame,
    score,
    target_values,
)
from continuum.registry.app import create_app
from continuum.registry.candidate_check import CandidateScorer
from continuum.registry.settings import RegistrySettings
from continuum.registry.store import RegistryStore
from continuum.registry_client import RegistryClient
from continuum.storage import ObjectStore, sha256_hex

TOKEN = "test-token-0123456789"
OBSERVED = (
    MODELS_PROMOTED,
    MODELS_REGISTERED,
    PIPELINES_CHANGED,
    ROLLOUTS,
    TRAINING_REQUESTS,
    dlq_topic(MODELS_TRAINED),
    dlq_topic(ROLLOUTS),
)


@dataclass
class Harness:
    app: FastAPI
    broker: KafkaBroker
    http: httpx.AsyncClient
    registry: RegistryClient
    published: dict[str, list[dict[str, Any]]]

    async def train(self, event: ModelTrained) -> None:
        await publish_event(self.broker, event, source="test-trainer")

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        value: float | None = self.app.state.metrics_registry.get_sample_value(name, labels or {})
        return value


def _observe(broker: KafkaBroker, topic: str, sink: list[dict[str, Any]]) -> None:
    @broker.subscriber(topic, group_id="test-observer")
    async def observe(body: dict[str, Any], msg: KafkaMessage) -> None:
        sink.append(body | {"_key": msg.raw_message.key, "_headers": dict(msg.headers)})


def registry_settings(
    tmp_path: Path, artifact_store: ObjectStore, **overrides: Any
) -> RegistrySettings:
    """Settings for an in-memory run: SQLite under ``tmp_path``, no real Kafka."""
    return RegistrySettings(
        token=TOKEN,
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        artifact_root=artifact_store.root_uri,
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", transient_retry_backoff_seconds=0.001),
        outbox_poll_seconds=3600,
        **overrides,
    )


@contextlib.asynccontextmanager
async def running(
    settings: RegistrySettings,
    store: RegistryStore | None = None,
    scorer: CandidateScorer | None = None,
) -> AsyncIterator[Harness]:
    """The app with its lifespan, an in-memory broker and clients; ``published`` collects
    what it publishes on the observed topics."""
    app = create_app(settings, store=store, scorer=scorer)
    broker: KafkaBroker = app.state.broker
    published: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for topic in OBSERVED:
        _observe(broker, topic, published[topic])
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(broker) as test_broker,
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://registry") as http,
        RegistryClient("http://registry", token=TOKEN, transport=transport) as registry,
    ):
        yield Harness(app, test_broker, http, registry, published)


SPEC_YAML = """
name: churn
source_topic: churn.records
task: binary_classification
schema:
  features:
    - {name: tenure, type: numeric, min: 0}
    - {name: plan, type: categorical, values: [basic, pro]}
  target: {name: churned}
  event_time: ts
model:
  estimator: LogisticRegression
  params: {max_iter: 200}
promotion:
  metric: roc_auc
  min_improvement: 0.01
  floor: 0.6
"""


def training_records(n: int = 120) -> list[dict[str, Any]]:
    """Rows where long tenure on the pro plan means staying."""
    rows = []
    for i in range(n):
        tenure = float(i % 40)
        plan = "pro" if i % 3 == 0 else "basic"
        rows.append(
            {"tenure": tenure, "plan": plan, "churned": int(tenure < 15 and plan == "basic")}
        )
    return rows


def holdout_frame(n: int = 200) -> pd.DataFrame:
    """Labelled rows as the trainer stores a holdout: raw columns, target and event time."""
    rows = []
    for i in range(n):
        tenure = float((i * 7) % 40) + 0.5
        plan = "pro" if i % 4 == 0 else "basic"
        rows.append(
            {
                "tenure": tenure,
                "plan": plan,
                "churned": int(tenure < 15 and plan == "basic"),
                "ts": f"2024-01-01T{i // 60:02d}:{i % 60:02d}:00Z",
            }
        )
    return pd.DataFrame(rows)


Quality = Literal["good", "fair", "poor"]
"""How well a test model ranks the holdout: roc_auc 1.0, about 0.69, about 0.66."""

_FLIP_EVERY: dict[Quality, int | None] = {"good": None, "fair": 3, "poor": 2}
"""Every n-th training label flipped: the noise that makes a model fair or poor."""


@cache
def _model_bytes(spec_yaml: str, quality: Quality) -> bytes:
    spec = parse_spec_yaml(spec_yaml)
    records = training_records()
    every = _FLIP_EVERY[quality]
    y = [1 - v if every and i % every == 0 else v for i, v in enumerate(labels(spec, records))]
    return dump_model(build_pipeline(spec).fit(records_to_frame(spec, records), y))


class ArtifactMaker:
    """Stores a real model of a given quality, its reference sample, card and holdout."""

    def __init__(self, spec: PipelineSpec, store: ObjectStore) -> None:
        self.spec, self.store = spec, store
        self.holdout = holdout_frame()

    def __call__(self, run_id: str, quality: Quality = "good") -> ModelArtifacts:
        """The artifacts of run ``run_id``, as the trainer would write them."""
        model_bytes = _model_bytes(SPEC_YAML, quality)
        pipeline = load_model(model_bytes, expected_sha256=sha256_hex(model_bytes))
        frame = records_to_frame(self.spec, training_records())
        sample = frame_to_parquet(build_reference_sample(self.spec, pipeline, frame))
        card = json.dumps({"pipeline": self.spec.name, "run_id": run_id}).encode()
        put = self.store.put
        return ModelArtifacts(
            model=put(f"{run_id}/model.skops", model_bytes),
            reference_sample=put(f"{run_id}/reference.parquet", sample),
            model_card=put(f"{run_id}/model_card.json", card),
            holdout=put(f"{run_id}/holdout.parquet", frame_to_parquet(self.holdout)),
        )

    def metrics(self, quality: Quality) -> dict[str, float]:
        """What a model of ``quality`` scores on the holdout (what the registry measures)."""
        model_bytes = _model_bytes(SPEC_YAML, quality)
        pipeline = load_model(model_bytes, expected_sha256=sha256_hex(model_bytes))
        y = target_values(self.spec, self.holdout)
        return score(pipeline, feature_columns(self.spec, self.holdout), y, self.spec.task)
