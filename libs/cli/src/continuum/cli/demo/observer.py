"""Watches the loop's own topics so the demo can show (and check) what happened.

Given the stack's event key, the observer believes only events the services signed: a
forged one (unsigned, or another key) is logged and left out, as the services refuse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pydantic import ValidationError

from continuum.contracts import (
    DataBatchReady,
    DriftDetected,
    EventKeyring,
    ModelPromoted,
    ModelRegistered,
    ModelTrained,
    QualityMeasured,
    RecordRejected,
    UnverifiedEventError,
    decode_event,
)
from continuum.contracts import topics as t

logger = logging.getLogger(__name__)

WATCHED = (
    t.DATA_BATCHES,
    t.RECORDS_REJECTED,
    t.MODELS_TRAINED,
    t.MODELS_REGISTERED,
    t.MODELS_PROMOTED,
    t.DRIFT_DETECTED,
    t.QUALITY_MEASURED,
)


@dataclass
class LoopEvents:
    """What the observer saw of one pipeline, deduplicated (delivery is at-least-once)."""

    pipeline: str | None = None
    """Only this pipeline's events count (the topics are shared with other pipelines)."""

    batches: dict[str, DataBatchReady] = field(default_factory=dict)
    rejected: dict[str, RecordRejected] = field(default_factory=dict)
    trained: dict[str, ModelTrained] = field(default_factory=dict)
    registered: dict[str, ModelRegistered] = field(default_factory=dict)
    promoted: dict[str, ModelPromoted] = field(default_factory=dict)
    drift: dict[str, DriftDetected] = field(default_factory=dict)
    quality: dict[str, QualityMeasured] = field(default_factory=dict)

    @property
    def rows_ingested(self) -> int:
        """Rows in distinct batches."""
        return sum(b.row_count for b in self.batches.values())

    def add(self, value: bytes) -> None:
        """Record one event from any watched topic."""
        try:
            event = decode_event(value)
        except ValidationError:
            logger.warning("observer: not a Continuum event: %r", value[:200])
            return
        if self.pipeline is not None and event.pipeline != self.pipeline:
            return
        key = str(event.event_id)
        if isinstance(event, DataBatchReady):
            self.batches[event.batch_id] = event
        elif isinstance(event, RecordRejected):
            self.rejected[key] = event
        elif isinstance(event, ModelTrained):
            self.trained[event.run_id] = event
        elif isinstance(event, ModelRegistered):
            self.registered[event.run_id] = event
        elif isinstance(event, ModelPromoted):
            self.promoted[key] = event
        elif isinstance(event, DriftDetected):
            self.drift[key] = event
        elif isinstance(event, QualityMeasured):
            self.quality[key] = event


class LoopObserver:
    """A background consumer of the loop's topics (from the beginning)."""

    def __init__(
        self,
        bootstrap_servers: str,
        pipeline: str | None = None,
        keyring: EventKeyring | None = None,
    ) -> None:
        self.events = LoopEvents(pipeline=pipeline)
        self.keyring = keyring
        self.refused = 0
        self._consumer = AIOKafkaConsumer(
            *WATCHED,
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            metadata_max_age_ms=2000,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start consuming in the background."""
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    self.consume(record)

    def consume(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """Record one consumed message, unless it is empty or its signature fails."""
        if record.value is None:
            return
        if self.keyring is not None:
            try:
                self.keyring.verify_kafka(record.value, record.headers or ())
            except UnverifiedEventError as error:
                self.refused += 1
                logger.warning("observer: ignoring %s@%d: %s", record.topic, record.offset, error)
                return
        self.events.add(record.value)

    async def stop(self) -> None:
        """Stop consuming."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
