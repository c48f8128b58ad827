"""Test helpers for ingest: a flights-like spec, records, fakes for Kafka, an engine harness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from continuum.contracts import Event, PipelineSpec
from continuum.ingest.engine import IngestEngine
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.metrics import IngestMetrics
from continuum.registry_client import PipelineSpecRecord
from continuum.storage import open_store

SPEC: dict[str, Any] = {
    "name": "flights",
    "source_topic": "flights.raw",
    "task": "binary_classification",
    "schema": {
        "features": [
            {"name": "distance", "type": "numeric", "min": 0, "max": 5000, "nullable": False},
            {"name": "dep_hour", "type": "numeric", "min": 0, "max": 23},
            {"name": "carrier", "type": "categorical", "nullable": False},
            {"name": "origin", "type": "categorical", "values": ["JFK", "LGA", "EWR"]},
        ],
        "target": {"name": "late"},
        "event_time": "time_hour",
        "entity_id": "flight_id",
    },
    "model": {"estimator": "LogisticRegression"},
    "promotion": {"metric": "roc_auc"},
    "ingest": {"flush_rows": 3, "flush_seconds": 10},
}


def make_spec(**overrides: Any) -> PipelineSpec:
    """The test spec with top-level keys replaced."""
    return PipelineSpec.model_validate({**SPEC, **overrides})


def make_record(spec: PipelineSpec | None = None, version: int = 1) -> PipelineSpecRecord:
    """A registry record of ``spec`` at ``version``."""
    spec = spec or make_spec()
    return PipelineSpecRecord(
        name=spec.name,
        spec_version=version,
        spec_sha256=spec.sha256(),
        spec=spec,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def good(**overrides: Any) -> dict[str, Any]:
    """A valid record."""
    record: dict[str, Any] = {
        "distance": 1089.0,
        "dep_hour": 5,
        "carrier": "UA",
        "origin": "EWR",
        "late": 1,
        "time_hour": "2013-01-01T05:00:00",
        "flight_id": "UA1545",
    }
    record.update(overrides)
    return record


class FakePublisher:
    """Records published events (and the shared call log); can be told to fail."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log
        self.events: list[Event] = []
        self.fail_with: BaseException | None = None

    async def publish(self, events: Sequence[Event]) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        for event in events:
            self.events.append(event)
            self.log.append(("publish", event))

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class FakeCommitter:
    """Records commits in the shared call log."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log
        self.commits: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))
        self.log.append(("commit", dict(offsets)))

    def last(self, tp: TopicPartition) -> int | None:
        points = [c[tp] for c in self.commits if tp in c]
        return points[-1] if points else None


class FakeClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """An engine on a memory store with fake Kafka; ``restart()`` builds a fresh one."""

    def __init__(self, store_uri: str) -> None:
        self.store_uri = store_uri
        self.log: list[tuple[str, Any]] = []
        self.clock = FakeClock()
        self.registry = CollectorRegistry()
        self.publisher = FakePublisher(self.log)
        self.committer = FakeCommitter(self.log)
        self.store = open_store(store_uri)
        self.engine = IngestEngine(
            store=self.store,
            publisher=self.publisher,
            committer=self.committer,
            metrics=IngestMetrics(self.registry),
            clock=self.clock,
        )

    def restart(self) -> Harness:
        return Harness(self.store_uri)

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0
