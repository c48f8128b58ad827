"""The pipelines ingest knows: their source topics and the spec records are checked against.

A pipeline can be known before its spec is: the registry listed it, or announced a
new version on ``continuum.pipelines.changed``, but fetching the spec failed or has not
happened yet. Such a pipeline is not *ready*; records on its topic wait (the partition
is paused) rather than being checked against a stale spec or dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from continuum.contracts import PipelineSpec
from continuum.ingest.batch_check import BatchChecker
from continuum.registry_client import PipelineSpecRecord


@dataclass(slots=True)
class PipelineEntry:
    """One pipeline: where its records come from and the spec in force."""

    name: str
    source_topic: str
    record: PipelineSpecRecord | None = None
    wanted_version: int = 1
    _checker: BatchChecker | None = field(default=None, repr=False, compare=False)

    @property
    def ready(self) -> bool:
        """Whether the spec in hand is at least the newest version announced."""
        return self.record is not None and self.record.spec_version >= self.wanted_version

    @property
    def spec(self) -> PipelineSpec:
        """The spec in force (only call when :attr:`ready`)."""
        if self.record is None:
            raise LookupError(f"pipeline {self.name!r} has no spec yet")
        return self.record.spec

    @property
    def checker(self) -> BatchChecker:
        """The record contract compiled for the spec in force (only call when :attr:`ready`).

        Compiled once per spec: every polled run of records is checked with it.
        """
        spec = self.spec
        if self._checker is None or self._checker.spec is not spec:
            self._checker = BatchChecker(spec)
        return self._checker

    def use_checker(self, checker: BatchChecker) -> None:
        """Check with ``checker``, compiled beforehand for the spec in force."""
        if checker.spec is not self.spec:
            raise ValueError(f"pipeline {self.name!r}: the checker is for another spec")
        self._checker = checker

    @property
    def spec_version(self) -> int:
        """The version of the spec in force (only call when :attr:`ready`)."""
        if self.record is None:
            raise LookupError(f"pipeline {self.name!r} has no spec yet")
        return self.record.spec_version


class Catalog:
    """Pipelines by name (mutated only by the engine, under its lock)."""

    def __init__(self) -> None:
        self.entries: dict[str, PipelineEntry] = {}

    def topics(self) -> frozenset[str]:
        """Every source topic to subscribe to."""
        return frozenset(e.source_topic for e in self.entries.values())

    def for_topic(self, topic: str) -> list[PipelineEntry]:
        """The pipelines fed by ``topic`` (usually one), in name order."""
        return sorted(
            (e for e in self.entries.values() if e.source_topic == topic), key=lambda e: e.name
        )

    def topic_ready(self, topic: str) -> bool:
        """Whether every pipeline fed by ``topic`` has its newest spec."""
        return all(e.ready for e in self.for_topic(topic))

    def not_ready(self) -> list[str]:
        """Names of pipelines waiting for their spec."""
        return sorted(n for n, e in self.entries.items() if not e.ready)
