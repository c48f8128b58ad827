"""A canary pipeline on a real stack, for the rollout test: data, training and traffic.

The stack is :class:`continuum.cli.stack.LocalStack` (the five services as processes)
against the session's Kafka, as the quality benchmark's platform mode runs it. The
pipeline's label is a known logistic function of its features, so the test knows each
record's true label; retraining by itself is off (rules with an unreachable row count,
no drift) so that only the test makes models, by producing a batch and asking for a run.

:class:`Traffic` plays the clients: it asks serving for predictions of new entities and,
once the monitor has read those predictions, sends their true labels as ``Feedback``
(a label that arrives before its prediction is logged cannot be joined). Every answer
that is not a 2xx, and every exception, is a failed request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
from aiokafka import AIOKafkaProducer

from bench.quality.settle import metric_sum
from continuum.cli.stack import LocalStack
from continuum.contracts import Feedback, encode_event
from continuum.registry_client import RegistryClient, RolloutRecord, TrainingRunRecord

NAME = "canary"
SOURCE_TOPIC = f"{NAME}.events"
ENTITY, EVENT_TIME, LABEL = "row_id", "event_time", "label"
SEGMENTS = ["a", "b", "c", "d"]
SEGMENT_EFFECT = {"a": 0.8, "b": -0.6, "c": 0.3, "d": -0.5}
START = datetime(2026, 1, 1, tzinfo=UTC)

SPEC: dict[str, Any] = {
    "name": NAME,
    "source_topic": SOURCE_TOPIC,
    "task": "binary_classification",
    "schema": {
        "entity_id": ENTITY,
        "event_time": EVENT_TIME,
        "target": {"name": LABEL},
        "features": [
            *({"name": f"x{i}", "type": "numeric"} for i in range(3)),
            {"name": "segment", "type": "categorical"},
        ],
    },
    "model": {
        "estimator": "HistGradientBoostingClassifier",
        "params": {"max_iter": 60, "random_state": 0},
    },
    # A run trains on the newest 1,500 rows by event time: one batch sent by the test.
    "training": {"window_rows": 1_500, "min_rows": 400},
    "promotion": {"metric": "roc_auc"},
    # Only the cold start trains by itself; the test asks for every other run.
    "triggers": {
        "policy": "rules",
        "min_new_labelled_rows": 100_000_000,
        "on_drift": False,
        "cold_start": True,
    },
    # No drift windows to compute while the test runs (they would only cost CPU).
    "monitoring": {"window_rows": 1_000_000},
    "ingest": {"flush_rows": 1_500, "flush_seconds": 2.0},
    "deployment": {
        "strategy": "canary",
        "steps": [0.2, 0.5, 1.0],
        "min_labelled": 100,
    },
}


class DataSource:
    """Records whose label follows a known function; every record a new entity."""

    def __init__(self, seed: int = 11) -> None:
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def records(self, n: int, *, shuffle_labels: bool = False) -> list[dict[str, Any]]:
        """``n`` new labelled records, later in event time than all before them."""
        x = self.rng.normal(0.0, 1.0, (n, 3))
        segment = self.rng.choice(SEGMENTS, n)
        effect = np.array([SEGMENT_EFFECT[s] for s in segment])
        logit = 2.0 * x[:, 0] - 1.5 * x[:, 1] + 1.0 * x[:, 2] + effect
        labels = (self.rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
        if shuffle_labels:  # the deliberately worse candidate's data: no signal left
            labels = self.rng.permutation(labels)
        out = []
        for i in range(n):
            index = self.count + i
            out.append(
                {
                    ENTITY: f"e{index}",
                    EVENT_TIME: (START + timedelta(seconds=index)).isoformat(),
                    **{f"x{j}": float(x[i, j]) for j in range(3)},
                    "segment": str(segment[i]),
                    LABEL: int(labels[i]),
                }
            )
        self.count += n
        return out


async def produce(producer: AIOKafkaProducer, records: list[dict[str, Any]]) -> None:
    """Labelled records to the source topic, all on partition 0: ingest keeps one lane, so
    a batch of the test is one stored batch (and one training window)."""
    sends = [
        await producer.send(
            SOURCE_TOPIC, json.dumps(r).encode(), key=r[ENTITY].encode(), partition=0
        )
        for r in records
    ]
    await asyncio.gather(*sends)


async def wait_for_run(
    registry: RegistryClient, version: int, patience: float = 180.0
) -> TrainingRunRecord:
    """The run that registered ``version``, once the registry's gate has decided on it."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        for run in await registry.list_runs(NAME, limit=50):
            if run.version == version and run.decision is not None:
                return run
            if run.status == "failed" and run.version is None:
                raise AssertionError(f"a run failed: {run.failure_reason}")
        await asyncio.sleep(0.5)
    raise AssertionError(f"no decided run registered v{version} within {patience} s")


@dataclass
class Timeline:
    """One rollout's moves from the registry's audit log, in seconds after its start."""

    rollout: RolloutRecord
    moves: list[tuple[float, str]]

    def lines(self) -> list[str]:
        """One line per move, for the report."""
        return [f"  t+{seconds:6.1f} s  {what}" for seconds, what in self.moves]


async def timeline_of(registry: RegistryClient, rollout: RolloutRecord) -> Timeline:
    """Every audited move of ``rollout`` (started, each step, the decision), oldest first."""
    moves = []
    for entry in reversed(await registry.audit(NAME, limit=500)):
        if not entry.action.startswith("rollout_"):
            continue
        if entry.detail.get("rollout_id") != rollout.rollout_id:
            continue
        seconds = (entry.at - rollout.started_at).total_seconds()
        share = entry.detail.get("traffic_share", 0.0)
        what = f"{entry.action.removeprefix('rollout_')} step {entry.detail.get('step')}"
        what += f" (share {share:.0%})"
        if entry.detail.get("reason"):
            what += f": {entry.detail['reason']}"
        moves.append((seconds, what))
    return Timeline(rollout, moves)


@dataclass
class Traffic:
    """Clients of the stack: predictions over HTTP, then each prediction's true label."""

    stack: LocalStack
    producer: AIOKafkaProducer
    http: httpx.AsyncClient
    source: DataSource
    records_per_request: int = 20
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    answered_by: Counter[int] = field(default_factory=Counter)
    unlabelled: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """(the predicted-record count when it was sent, the record) awaiting its label."""

    async def predict_once(self) -> None:
        """One request of new entities; its failure is counted, never raised."""
        records = self.source.records(self.records_per_request)
        url = f"{self.stack.url('serving')}/v1/pipelines/{NAME}/predict"
        body = {"records": [{k: v for k, v in r.items() if k != LABEL} for r in records]}
        try:
            response = await self.http.post(url, json=body)
        except httpx.HTTPError as exc:
            self.failed.append(f"{type(exc).__name__}: {exc}")
            return
        if not response.is_success:
            self.failed.append(f"{response.status_code}: {response.text[:200]}")
            return
        answer = response.json()
        for prediction in answer["predictions"]:
            self.answered_by[int(prediction.get("model_version", answer["model_version"]))] += 1
        for record in records:
            self.sent += 1
            self.unlabelled.append((self.sent, record))

    async def label_what_the_monitor_read(self) -> None:
        """Send the labels of the predictions the monitor has read so far."""
        metrics = await self.http.get(f"{self.stack.url('monitor')}/metrics")
        read = metric_sum(metrics.text, "continuum_monitor_predictions_total")
        due = [r for n, r in self.unlabelled if n <= read]
        self.unlabelled = [(n, r) for n, r in self.unlabelled if n > read]
        sends = []
        for record in due:
            item = encode_event(
                Feedback(pipeline=NAME, entity_id=record[ENTITY], label=record[LABEL]),
                source="rollout-test",
            )
            sends.append(
                await self.producer.send(
                    item.topic, item.value, key=item.key, headers=item.header_pairs()
                )
            )
        await asyncio.gather(*sends)

    async def until_decided(
        self, registry: RegistryClient, candidate: int, patience: float = 240.0
    ) -> RolloutRecord:
        """Drive traffic and labels until ``candidate``'s rollout completes or rolls back."""
        deadline = time.monotonic() + patience
        rollout = None
        while time.monotonic() < deadline:
            for _ in range(5):
                await self.predict_once()
            await self.label_what_the_monitor_read()
            rollout = await registry.rollout(NAME)
            if rollout and rollout.candidate_version == candidate and not rollout.live:
                return rollout
        raise AssertionError(f"v{candidate}'s rollout undecided after {patience} s: {rollout}")
