"""Test helpers: a real small model in a memory:// store, a fake registry, a running app."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
from faststream.kafka import TestKafkaBroker

from continuum.contracts import ModelArtifacts, ModelPromoted, PipelineSpec
from continuum.kafka import KafkaSettings
from continuum.modelkit import (
    build_pipeline,
    build_reference_sample,
    dump_model,
    frame_to_parquet,
    labels,
    records_to_frame,
)
from continuum.registry_client.testing import FakeRegistry
from continuum.serving.app import app_for
from continuum.serving.bootstrap import ServingParts, build
from continuum.serving.settings import ServingSettings
from continuum.storage import MemoryObjectStore, ObjectStore

ORIGINS = ["EWR", "JFK", "LGA"]


def make_spec(name: str = "flights") -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": name,
            "source_topic": f"{name}.records",
            "task": "binary_classification",
            "schema": {
                "features": [
                    {"name": "dep_delay", "type": "numeric", "min": -120, "max": 3000,
                     "nullable": False},
                    {"name": "distance", "type": "numeric"},
                    {"name": "origin", "type": "categorical", "values": ORIGINS,
                     "nullable": False},
                    {"name": "carrier", "type": "categorical"},
                ],
                "target": {"name": "late"},
                "event_time": "time_hour",
                "entity_id": "flight_id",
            },
            "model": {"estimator": "LogisticRegression", "params": {"max_iter": 200}},
            "promotion": {"metric": "roc_auc"},
        }
    )  # fmt: skip


def make_record(rng: random.Random | None = None, **overrides: Any) -> dict[str, Any]:
    rng = rng or random.Random(0)
    record: dict[str, Any] = {
        "dep_delay": rng.uniform(-20, 120),
        "distance": rng.uniform(100, 2500),
        "origin": rng.choice(ORIGINS),
        "carrier": rng.choice(["UA", "AA", "B6", "DL", None]),
        "flight_id": f"f-{rng.randrange(10**6)}",
        "time_hour": "2013-01-01T05:00:00Z",
    }
    record.update(overrides)
    return record


def train_artifacts(
    store: ObjectStore, spec: PipelineSpec, version: int, *, seed: int
) -> ModelArtifacts:
    """Fit a small real pipeline and store model (skops), reference sample and card."""
    rng = random.Random(seed)
    records = [make_record(rng) for _ in range(300)]
    for r in records:
        r["late"] = int(r["dep_delay"] + rng.gauss(0, 20) > 40)
    frame = records_to_frame(spec, records)
    pipeline = build_pipeline(spec).fit(frame, labels(spec, records))
    prefix = f"{spec.name}/v{version}"
    sample = build_reference_sample(spec, pipeline, frame)
    return ModelArtifacts(
        model=store.put(f"{prefix}/model.skops", dump_model(pipeline)),
        reference_sample=store.put(f"{prefix}/reference.parquet", frame_to_parquet(sample)),
        model_card=store.put(f"{prefix}/model_card.json", json.dumps({"v": version}).encode()),
    )


@dataclass
class World:
    """One test's store, registry and app."""

    store: MemoryObjectStore
    registry: FakeRegistry
    parts: ServingParts
    client: httpx.AsyncClient

    def promotion(
        self, version: int, *, reason: str = "gate", pipeline: str = "flights"
    ) -> ModelPromoted:
        return ModelPromoted(
            pipeline=pipeline,
            version=version,
            artifacts=self.registry.models[(pipeline, version)].artifacts,
            reason=reason,  # type: ignore[arg-type]
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.parts.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    async def predict(self, records: list[dict[str, Any]], pipeline: str = "flights") -> Any:
        return await self.client.post(
            f"/v1/pipelines/{pipeline}/predict", json={"records": records}
        )


def new_store() -> MemoryObjectStore:
    return MemoryObjectStore(f"memory://serving-{uuid4().hex}")


def settings_for(store: ObjectStore, **overrides: Any) -> ServingSettings:
    values: dict[str, Any] = {
        "kafka": KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        "artifact_root": store.root_uri,
        "registry_url": "http://registry.test",
        "registry_retry_seconds": 0.01,
        "reconcile_seconds": 0,
        "instance_id": "test",
    }
    values.update(overrides)
    return ServingSettings(**values)


async def wait_for(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    """Poll until ``condition`` holds (the deadline only stops a hung test)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)


@asynccontextmanager
async def running(
    registry: FakeRegistry,
    store: MemoryObjectStore,
    *,
    wait_synced: bool = True,
    setup: Callable[[ServingParts], None] | None = None,
    **overrides: Any,
) -> AsyncIterator[World]:
    """The app with its lifespan running, Kafka in memory, an HTTP client on it."""
    parts = build(settings_for(store, **overrides), registry=registry.client())
    if setup is not None:
        setup(parts)
    app = app_for(parts)
    async with TestKafkaBroker(parts.broker), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
            world = World(store, registry, parts, client)
            if wait_synced:
                await wait_for(lambda: parts.table.synced, "the registry sync")
            yield world


def registry_with_champion(store: ObjectStore, versions: int = 2) -> FakeRegistry:
    """A registry knowing ``flights`` with versions 1..n trained, version 1 the champion."""
    spec = make_spec()
    registry = FakeRegistry()
    registry.apply(spec)
    for version in range(1, versions + 1):
        registry.add_model("flights", version, train_artifacts(store, spec, version, seed=version))
    registry.champions["flights"] = 1
    return registry
