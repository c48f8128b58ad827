"""Ingest's runtime: the spec sync and the source consumer, run as two background tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from continuum.ingest.consumer_loop import ConsumerLoop
from continuum.ingest.engine import IngestEngine
from continuum.ingest.kafka_io import KafkaEventPublisher
from continuum.ingest.spec_sync import SpecSync
from continuum.registry_client import RegistryClient
from continuum.runtime import Backoff

logger = logging.getLogger(__name__)


class IngestService:
    """Runs the parts ``bootstrap.build`` wired; :meth:`start`/:meth:`stop` in the lifespan."""

    def __init__(
        self,
        *,
        registry: RegistryClient,
        publisher: KafkaEventPublisher,
        engine: IngestEngine,
        sync: SpecSync,
        loop: ConsumerLoop,
        backoff_seconds: float,
    ) -> None:
        self.registry = registry
        self.publisher = publisher
        self.engine = engine
        self.sync = sync
        self.loop = loop
        self.backoff = Backoff(backoff_seconds)
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Start the spec sync and the consumer in the background (they retry by themselves)."""
        self._tasks = [
            asyncio.create_task(self.sync.run(), name="ingest-spec-sync"),
            asyncio.create_task(self._run_consumer(), name="ingest-consumer"),
        ]

    async def _run_consumer(self) -> None:
        # Not `retrying`: a stop must end the wait at once, and any error is Kafka's.
        failures = 0
        while not self._stopping.is_set():
            try:
                await self.publisher.start()
                break
            except Exception as exc:
                failures += 1
                self.loop.last_error = f"kafka producer: {exc}"
                logger.warning("kafka producer cannot connect (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.backoff.delay(failures))
        if not self._stopping.is_set():
            await self.loop.run()

    async def stop(self) -> None:
        """Stop polling, flush and commit, then close every client."""
        self._stopping.set()
        self.loop.stop()
        sync_task, consumer_task = self._tasks or (None, None)
        if sync_task is not None:
            sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sync_task
        if consumer_task is not None:
            try:
                await consumer_task
            except Exception:
                logger.exception("the consumer task failed")
        await self.publisher.stop()
        await self.registry.aclose()

    async def health(self) -> dict[str, Any]:
        """``status`` is ``ok`` while the consumer is connected and running."""
        consumer_task = self._tasks[1] if self._tasks else None
        alive = consumer_task is not None and not consumer_task.done()
        ok = alive and self.loop.connected
        pipelines = {
            name: {
                "source_topic": entry.source_topic,
                "spec_version": entry.record.spec_version if entry.record else None,
                "ready": entry.ready,
            }
            for name, entry in self.engine.catalog.entries.items()
        }
        return {
            "status": "ok" if ok else ("starting" if alive else "stopped"),
            "service": "ingest",
            "kafka_connected": self.loop.connected,
            "registry_synced": self.sync.synced_once,
            "registry_error": self.sync.last_error,
            "last_error": self.loop.last_error,
            "pipelines": pipelines,
            "assigned": sorted(f"{tp.topic}[{tp.partition}]" for tp in self.engine.owned),
            "waiting_for_spec": sorted(f"{tp.topic}[{tp.partition}]" for tp in self.loop.paused),
            "buffered_rows": self.engine.buffered_rows(),
        }
