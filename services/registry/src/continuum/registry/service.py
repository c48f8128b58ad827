"""The registry's use cases, shared by the HTTP API and the Kafka consumer.

The store is synchronous (SQLAlchemy sessions), so every call runs in a worker thread;
the event loop keeps serving HTTP and heartbeating Kafka meanwhile. Events leave through
the outbox: written with the change, published right after, retried in the background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from faststream.kafka import KafkaBroker

from continuum.contracts import PipelineSpec, TrainingRequested
from continuum.kafka import publish_event
from continuum.registry import announcements
from continuum.registry.metrics import RegistryMetrics
from continuum.registry.store import NotFoundError, Promotion, RegistryStore
from continuum.registry_client import PipelineSpecRecord

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)

OUTBOX_BATCH = 100


class RegistryService:
    """Commands on pipelines and champions; the outbox publisher."""

    def __init__(self, store: RegistryStore, broker: KafkaBroker, metrics: RegistryMetrics) -> None:
        self.store = store
        self.broker = broker
        self.metrics = metrics
        self._outbox_lock = asyncio.Lock()

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking store call in a worker thread."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    # -- outbox -----------------------------------------------------------------------
    async def flush_outbox(self) -> int:
        """Publish every pending event in order; returns how many. Raises if Kafka fails."""
        sent = 0
        async with self._outbox_lock:  # one publisher at a time keeps per-pipeline order
            while pending := await self.db(self.store.pending_events, OUTBOX_BATCH):
                self.metrics.outbox_pending.set(len(pending))
                for item in pending:
                    await publish_event(self.broker, item.event, source=announcements.SOURCE)
                    # Marked one by one: a failure mid-batch re-sends at most one event
                    # (consumers are idempotent on event_id anyway).
                    await self.db(self.store.mark_published, [item.outbox_id])
                    sent += 1
            self.metrics.outbox_pending.set(0)
        return sent

    async def try_flush_outbox(self) -> None:
        """Publish pending events now if Kafka lets us; otherwise the background loop will."""
        try:
            await self.flush_outbox()
        except Exception:
            logger.warning("could not publish outbox events yet; will retry", exc_info=True)

    async def outbox_loop(self, interval_seconds: float) -> None:
        """Retry pending events forever (cancelled at shutdown)."""
        while True:
            await self.try_flush_outbox()
            await asyncio.sleep(interval_seconds)

    # -- commands ---------------------------------------------------------------------
    async def apply_spec(self, spec: PipelineSpec, applied_by: str) -> PipelineSpecRecord:
        """Store a spec version (or report it unchanged) and announce it."""
        record = await self.db(
            self.store.apply_spec, spec, applied_by, announcements.spec_applied()
        )
        if not record.unchanged:
            await self.try_flush_outbox()
        return record

    async def promote(self, pipeline: str, version: int, actor: str, reason: str) -> Promotion:
        """Make ``version`` the champion by hand."""
        announce = announcements.champion_changed("manual", actor)
        promotion = await self.db(
            self.store.promote, pipeline, version, actor=actor, reason=reason, announce=announce
        )
        self.champion_changed(pipeline, promotion.champion.version)
        await self.try_flush_outbox()
        return promotion

    async def rollback(self, pipeline: str, actor: str, reason: str) -> Promotion:
        """Return to the previous champion."""
        announce = announcements.champion_changed("rollback", actor)
        promotion = await self.db(
            self.store.rollback, pipeline, actor=actor, reason=reason, announce=announce
        )
        self.champion_changed(pipeline, promotion.champion.version)
        await self.try_flush_outbox()
        return promotion

    async def request_training(
        self, pipeline: str, requested_by: str, reason: str
    ) -> TrainingRequested:
        """Ask the trainer for a run (``TrainingRequested``, trigger manual)."""
        if await self.db(self.store.get_spec, pipeline) is None:
            raise NotFoundError(f"no pipeline named {pipeline}")
        event = TrainingRequested(
            pipeline=pipeline, trigger="manual", requested_by=requested_by, reason=reason
        )
        await self.db(self.store.record_training_request, event)
        await self.try_flush_outbox()
        return event

    # -- metrics ----------------------------------------------------------------------
    def champion_changed(self, pipeline: str, version: int) -> None:
        """Keep the champion gauge in step."""
        self.metrics.champion_version.labels(pipeline).set(version)

    async def load_gauges(self) -> None:
        """Set the champion gauge from the database (at start), counters at zero."""
        for pipeline, version in (await self.db(self.store.champions)).items():
            self.metrics.touch(pipeline)
            self.champion_changed(pipeline, version)
