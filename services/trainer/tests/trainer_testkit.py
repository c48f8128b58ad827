"""Fakes and builders for the trainer's unit tests (in-memory broker, stores, registry)."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

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
from continuum.registry_client.testing import FakeRegistry
from continuum.storage import open_store
from continuum.trainer.app import app_for
from continuum.trainer.bootstrap import TrainerParts, build
from continuum.trainer.jobs import TrainFn, TrainingJob, TrainingResult
from continuum.trainer.service import TrainerService
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


@dataclass(frozen=True)
class Trainer:
    """A trainer's parts and the app serving them."""

    parts: TrainerParts
    app: AsgiFastStream

    @property
    def broker(self) -> KafkaBroker:
        return self.parts.broker

    @property
    def service(self) -> TrainerService:
        return self.parts.service

    @property
    def metrics(self) -> CollectorRegistry:
        return self.parts.metrics


def promote(registry: FakeRegistry, trained: ModelTrained, version: int = 1) -> None:
    """Make the model ``trained`` describes the registry's champion at ``version``."""
    assert trained.artifacts is not None
    registry.add_model(
        trained.pipeline,
        version,
        trained.artifacts,
        champion=True,
        run_id=trained.run_id,
        trigger=trained.trigger,
        spec_version=trained.spec_version,
        metrics=trained.metrics,
        correlation_id=str(trained.correlation_id),
    )


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
        self.spec_version = self.registry.apply(spec)
        self.offset = 0
        self.trained: list[ModelTrained] = []

    def build(self, train_fn: TrainFn = train_run) -> Trainer:
        parts = build(self.settings, registry=self.registry.client(), train_fn=train_fn)
        trainer = Trainer(parts, app_for(parts))

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
