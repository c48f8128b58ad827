"""What the engine needs from Kafka, as small interfaces (fakes in unit tests, aiokafka live)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class EventPublisher(Protocol):
    """Publishes events and returns once Kafka acknowledged all of them."""

    async def publish(self, events: Sequence[Event]) -> None: ...


class OffsetCommitter(Protocol):
    """Commits the next offset to read, per partition."""

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None: ...
