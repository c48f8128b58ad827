"""What the engine needs from Kafka, as small interfaces (fakes in unit tests, aiokafka live)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from continuum.contracts import Event
from continuum.ingest.lanes import TopicPartition


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """One polled message from a source topic."""

    topic: str
    partition: int
    offset: int
    value: bytes | None

    @property
    def tp(self) -> TopicPartition:
        """Its partition."""
        return TopicPartition(self.topic, self.partition)


class Polled(Protocol):
    """A polled record as the engine reads it (aiokafka's ``ConsumerRecord`` is one)."""

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...


def by_partition(messages: Iterable[SourceMessage]) -> dict[TopicPartition, list[SourceMessage]]:
    """``messages`` grouped by partition, each partition's in the given order."""
    runs: dict[TopicPartition, list[SourceMessage]] = {}
    for msg in messages:
        runs.setdefault(msg.tp, []).append(msg)
    return runs


class EventPublisher(Protocol):
    """Publishes events and returns once Kafka acknowledged all of them."""

    async def publish(self, events: Sequence[Event]) -> None: ...


class OffsetCommitter(Protocol):
    """Commits the next offset to read, per partition."""

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None: ...
