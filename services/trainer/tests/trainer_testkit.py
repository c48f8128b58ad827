"""Fakes and builders for the trainer's unit tests (in-memory broker, stores, registry)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from continuum.contracts import (
    DataBatchReady,
    ModelArtifacts,
    ModelTrained,
    OffsetRange,
    PipelineSpec,
    batch_id_for,
    topics,
)
from continuum.kafka import KafkaSettings
from continuum.modelkit import frame_to_parquet
from continuum.registry_client import RegistryClient
from continuum.storage import open_store
from continuum.trainer.app import Trainer, build_trainer
from continuum.trainer.jobs import TrainFn, TrainingJob, TrainingResult
from continuum.trainer.settings import TrainerSettings
from continuum.trainer.worker import train_run

PIPELINE = "flights"
START = datetime(2013, 1, 1, tzinfo=UTC)


def make_spec(**triggers: Any) -> PipelineSpec:
    training = triggers.pop("training", {"min_rows": 100, "holdout_fraction": 0.25})
    return PipelineSpec.model_validate(
        {
            "name": PIPELINE,
            "source_topic": "flights.records",
            "task": "binary_classification",
            "schema": {
                "features": [
                    {"name": "dep_hour", "type": "numeric"},
                    {"name": "distance", "type": "numeric"},
                    {"name": "origin", "type": "categorical"},
                ],
                "target": {"name": "late"},
                "event_time": "time_hour",
            },
            "model": {"estimator": "LogisticRegression", "params": {"max_iter": 200}},
            "training": training,
            "triggers": (
                {"cold_start": False}
                if triggers.get("policy") == "cost_aware"
                else {
                    "policy": "rules",
                    "min_new_labelled_rows": 300,
                    "on_drift": True,
                    "cold_start": False,
                }
            )
            | triggers,
            "promotion": {"metric": "roc_auc"},
        }
    )


@dataclass
class FakeRegistry:
    """The registry's read routes the trainer uses, answered from dicts."""

    specs: dict[int, PipelineSpec] = field(default_factory=dict)
    champion: dict[str, Any] | None = None
    calls: list[str] = field(default_factory=list)

    def set_spec(self, spec: PipelineSpec) -> int:
        version = len(self.specs) + 1
        self.specs[version] = spec
        return version

    def _spec_body(self, version: int) -> dict[str, Any]:
        spec = self.specs[version]
        return {
            "name": spec.name,
            "spec_version": version,
            "spec_sha256": spec.sha256(),
            "spec": spec.model_dump(mode="json", by_alias=True),
            "created_at": "2026-01-01T00:00:00Z",
        }

    def promote(self, trained: ModelTrained, version: int = 1) -> None:
        assert trained.artifacts is not None
        self.champion = {
            "pipeline": trained.pipeline,
            "version": version,
            "run_id": trained.run_id,
            "trigger": trained.trigger,
            "spec_version": trained.spec_version,
            "decision": "promoted",
            "decision_reason": "test",
            "metrics": trained.metrics,
            "artifacts": trained.artifacts.model_dump(mode="json"),
            "correlation_id": str(trained.correlation_id),
            "created_at": "2026-01-01T00:00:00Z",
            "is_champion": True,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(path)
        prefix = f"/v1/pipelines/{PIPELINE}"
        if path == prefix and self.specs:
            return httpx.Response(200, json=self._spec_body(max(self.specs)))
        if path == f"{prefix}/champion" and self.champion:
            return httpx.Response(200, json=self.champion)
        if path.startswith(f"{prefix}/specs/"):
            version = int(path.rsplit("/", 1)[1])
            if version in self.specs:
                return httpx.Response(200, json=self._spec_body(version))
        return httpx.Response(404, json={"detail": "not found"})

    def client(self) -> RegistryClient:
        return RegistryClient("http://registry.test", transport=httpx.MockTransport(self.handle))


def make_rows(n: int, *, offset: int = 0, labelled: bool = True, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed + offset)
    hour = rng.integers(5, 23, size=n).astype(float)
    origin = rng.choice(["EWR", "JFK", "LGA"], size=n)
    signal = (hour - 14) / 4 + (origin == "EWR") + rng.normal(scale=0.7, size=n)
    late: list[Any] = [bool(s > 0.5) for s in signal] if labelled else [None] * n
    times = [(START + timedelta(minutes=10 * (offset + i))).isoformat() for i in range(n)]
    return pd.DataFrame(
        {
            "dep_hour": hour,
            "distance": rng.uniform(100, 2500, size=n),
            "origin": origin,
            "late": late,
            "time_hour": times,
        }
    )


class Harness:
    """Settings, stores and a fake registry shared by trainers built in one test."""

    def __init__(self, tmp_path: Path, spec: PipelineSpec, *, file_stores: bool = False) -> None:
        tag = uuid.uuid4().hex[:8]
        data_root = (tmp_path / "data").as_uri() if file_stores else f"memory://data-{tag}"
        artifact_root = (
            (tmp_path / "artifacts").as_uri() if file_stores else f"memory://artifacts-{tag}"
        )
        self.settings = TrainerSettings(
            kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
            state_dir=tmp_path / "state",
            data_root=data_root,
            artifact_root=artifact_root,
            worker_mode="thread",
            tick_seconds=3600,
        )
        self.data = open_store(self.settings.data_root)
        self.artifacts = open_store(self.settings.artifact_root)
        self.registry = FakeRegistry()
        self.spec_version = self.registry.set_spec(spec)
        self.offset = 0
        self.trained: list[ModelTrained] = []

    def build(self, train_fn: TrainFn = train_run) -> Trainer:
        trainer = build_trainer(
            self.settings, registry_client=self.registry.client(), train_fn=train_fn
        )

        @trainer.broker.subscriber(topics.MODELS_TRAINED, group_id="test-observer")
        async def collect(event: ModelTrained) -> None:
            self.trained.append(event)

        return trainer

    def batch(self, rows: int, *, labelled: bool = True, corrupt: bool = False) -> DataBatchReady:
        frame = make_rows(rows, offset=self.offset, labelled=labelled)
        ranges = [
            OffsetRange(
                topic="flights.records", partition=0, first=self.offset, last=self.offset + rows - 1
            )
        ]
        self.offset += rows
        batch_id = batch_id_for(PIPELINE, ranges)
        stored = self.data.put(f"batches/{PIPELINE}/{batch_id}.parquet", frame_to_parquet(frame))
        if corrupt:
            stored = stored.model_copy(update={"sha256": "0" * 64})
        return DataBatchReady(
            pipeline=PIPELINE,
            batch_id=batch_id,
            offset_ranges=ranges,
            storage=stored,
            row_count=rows,
            labelled_row_count=rows if labelled else 0,
            min_event_time=START + timedelta(minutes=10 * (self.offset - rows)),
            max_event_time=START + timedelta(minutes=10 * (self.offset - 1)),
            spec_version=self.spec_version,
        )


class Gate:
    """A train function that waits for the test before training (or fails on purpose)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.abort = False
        self.calls: list[str] = []

    def __call__(self, job: TrainingJob) -> TrainingResult:
        self.calls.append(job.run_id)
        self.started.set()
        self.release.wait()
        if self.abort:
            raise RuntimeError("worker killed (simulated)")
        return train_run(job)

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 60)
        self.started.clear()


def card_of(harness: Harness, artifacts: ModelArtifacts) -> dict[str, Any]:
    data = harness.artifacts.get(artifacts.model_card.uri, artifacts.model_card.sha256)
    card: dict[str, Any] = json.loads(data)
    return card
