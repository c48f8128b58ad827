"""The background task that polls the source topics and drives the engine.

One task owns the consumer: it (re)subscribes when the set of source topics changes,
polls with a short timeout (so the flush timer ticks even when no record arrives),
pauses partitions whose pipeline waits for a spec and resumes them when it is in hand,
and on any failure rewinds to the committed offsets and backs off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka.abc import ConsumerRebalanceListener

from continuum.ingest.engine import IngestEngine
from continuum.ingest.kafka_io import ConsumerCommitter, kafka_tp
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.metrics import IngestMetrics
from continuum.runtime import Backoff

logger = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        tps = [TopicPartition(tp.topic, tp.partition) for tp in revoked]
        await self.loop.engine.on_revoked(tps)
        for tp in tps:
            self.loop.paused.discard(tp)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        tps = [TopicPartition(tp.topic, tp.partition) for tp in assigned]
        logger.info("assigned %s", sorted(tps))
        await self.loop.engine.on_assigned(tps)


class ConsumerLoop:
    """Runs until :meth:`stop`; then flushes every buffer, commits and closes the consumer."""

    def __init__(
        self,
        *,
        make_consumer: Callable[[], Any],
        engine: IngestEngine,
        committer: ConsumerCommitter,
        metrics: IngestMetrics,
        tick_seconds: float = 0.25,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.make_consumer = make_consumer
        self.engine = engine
        self.committer = committer
        self.metrics = metrics
        self.tick_seconds = tick_seconds
        self.backoff = Backoff(backoff_seconds)
        self.connected = False
        self.paused: set[TopicPartition] = set()
        self.subscribed: frozenset[str] = frozenset()
        self.last_error: str | None = None
        self._stopping = asyncio.Event()

    @property
    def consumer(self) -> Any | None:
        """The connected source consumer (None before it connects and after it closed)."""
        return self.committer.consumer if self.connected else None

    def stop(self) -> None:
        """Ask the loop to finish (it flushes before returning)."""
        self._stopping.set()

    async def run(self) -> None:
        """Connect (retrying), then poll until stopped."""
        consumer = await self._connect()
        if consumer is None:
            return
        try:
            await self._poll(consumer)
        finally:
            try:
                await self.engine.flush_all()
            except Exception:
                logger.exception("final flush failed; those rows are re-read on restart")
            self.connected = False
            await consumer.stop()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _connect(self) -> Any | None:
        failures = 0
        while not self._stopping.is_set():
            consumer = self.make_consumer()
            try:
                await consumer.start()
            except Exception as exc:
                await consumer.stop()
                failures += 1
                self.last_error = f"kafka: {exc}"
                logger.warning("kafka not reachable (%s); retrying", exc)
                await self._sleep(self.backoff.delay(failures))
                continue
            self.committer.consumer = consumer
            self.connected, self.last_error = True, None
            return consumer
        return None

    async def _poll(self, consumer: Any) -> None:
        listener = _Rebalance(self)
        failures = 0
        while not self._stopping.is_set():
            topics = self.engine.catalog.topics()
            if topics != self.subscribed:
                if topics:
                    logger.info("subscribing to %s", sorted(topics))
                    consumer.subscribe(topics=sorted(topics), listener=listener)
                else:
                    consumer.unsubscribe()
                self.subscribed = topics
            if not topics:
                await self._sleep(self.tick_seconds)
                continue
            self._resume_ready(consumer)
            try:
                polled = await consumer.getmany(timeout_ms=int(self.tick_seconds * 1000))
                # aiokafka's records as they come: a run per partition, no copies.
                blocked = await self.engine.handle(polled)
                await self.engine.flush_due()
            except Exception as exc:
                failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.exception("ingest step failed; rewinding to the committed offsets")
                await self._rewind(consumer)
                await self._sleep(self.backoff.delay(failures))
                continue
            failures, self.last_error = 0, None
            for tp, offset in blocked.items():
                logger.info("%s waits for its pipeline spec at offset %d", tp, offset)
                consumer.seek(kafka_tp(tp), offset)
                consumer.pause(kafka_tp(tp))
                self.paused.add(tp)

    def _resume_ready(self, consumer: Any) -> None:
        ready = {tp for tp in self.paused if self.engine.catalog.topic_ready(tp.topic)}
        if ready:
            consumer.resume(*(kafka_tp(tp) for tp in ready))
            self.paused -= ready

    async def _rewind(self, consumer: Any) -> None:
        try:
            targets = await self.engine.rewind()
        except Exception:
            logger.exception("rewind failed")
            return
        for tp, offset in targets.items():
            try:
                consumer.seek(kafka_tp(tp), offset)
            except Exception as exc:  # no longer assigned: the next owner starts there anyway
                logger.warning("could not seek %s to %d: %s", tp, offset, exc)
