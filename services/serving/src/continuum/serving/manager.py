"""Keeps each pipeline's champion loaded: at start, on promotion events, and by reconciling.

The registry is the truth about which version is the champion. Events make a replica
switch within a moment; a slow periodic reconcile repairs anything an event could not
(a promotion published while this replica was starting, a Kafka outage).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from continuum.contracts import ModelArtifacts, ModelPromoted, PipelineChanged
from continuum.registry_client import RegistryClient
from continuum.runtime import Backoff, retrying
from continuum.serving.enrichment import FeatureLookup
from continuum.serving.metrics import ServingMetrics
from continuum.serving.model_loader import ModelLoader, retryable
from continuum.serving.models import ModelTable, PipelineSlot
from continuum.serving.rollouts import RolloutKeeper
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ModelManager:
    """Loads, warms and swaps champions for every pipeline in a :class:`ModelTable`."""

    def __init__(
        self,
        table: ModelTable,
        registry: RegistryClient,
        store: ObjectStore,
        metrics: ServingMetrics,
        *,
        retry_seconds: float = 1.0,
        batch_max_rows: int = 1000,
        inline_max_rows: int = 0,
        features: FeatureLookup | None = None,
    ) -> None:
        self.table = table
        self.registry = registry
        self.metrics = metrics
        self.retry_seconds = retry_seconds
        self.loader = ModelLoader(
            registry,
            store,
            metrics,
            batch_max_rows=batch_max_rows,
            inline_max_rows=inline_max_rows,
            features=features,
        )
        self.refused = self.loader.refused
        self.rollouts = RolloutKeeper(
            table, registry, metrics, load=self.loader.load, refused=self.refused
        )

    # -- start and reconcile ---------------------------------------------------------
    async def sync_all(self) -> None:
        """Load every pipeline's champion; retries until the registry answers.

        Marks the table synced when done, so "unknown pipeline" means 404 from then on.
        """
        summaries = await self._retrying(self.registry.list_pipelines)
        for summary in summaries:
            self.table.slot(summary.name).latest_spec_version = summary.spec_version
        await asyncio.gather(
            *(self._sync_one(s.name) for s in summaries if s.champion_version is not None)
        )
        self.table.synced = True
        logger.info("registry sync done: %s", self.table.versions())

    async def _sync_one(self, name: str) -> None:
        try:
            await self._retrying(lambda: self.reconcile_pipeline(name))
            # A restart in the middle of a rollout resumes it where the registry has it.
            await self._retrying(lambda: self.rollouts.sync(name))
        except Exception:
            # One broken pipeline must not keep the others from being served.
            logger.exception("loading the champion of %s failed", name)

    async def reconcile_all(self) -> None:
        """Compare each pipeline's serving version (and rollout) with the registry's, and
        fix them."""
        for summary in await self.registry.list_pipelines():
            slot = self.table.slot(summary.name)
            slot.latest_spec_version = summary.spec_version
            serving = slot.current.version if slot.current else None
            if summary.champion_version is not None and summary.champion_version != serving:
                try:
                    await self.reconcile_pipeline(summary.name)
                except Exception:
                    logger.exception("reconciling %s failed", summary.name)
            if summary.champion_version is not None:
                try:
                    await self.rollouts.sync(summary.name)
                except Exception:
                    logger.exception("reconciling the rollout of %s failed", summary.name)

    async def reconcile_pipeline(self, name: str) -> bool:
        """Serve the registry's champion of ``name`` (older or newer); True if swapped."""
        slot = self.table.slot(name)
        generation = slot.generation
        record = await self.registry.get_champion(name)
        if record is None:
            return False
        return await self._install(
            slot,
            version=record.version,
            spec_version=record.spec_version,
            artifacts=record.artifacts,
            correlation_id=UUID(record.correlation_id),
            allow_older=True,
            # A swap while we were asking means an event beat us with newer news.
            expect_generation=generation,
        )

    async def run_reconciler(self, interval: float) -> None:
        """Reconcile every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reconcile_all()
            except Exception as exc:
                logger.warning("reconcile with the registry failed: %s", exc)

    # -- events ----------------------------------------------------------------------
    async def on_promoted(self, event: ModelPromoted) -> bool:
        """Switch to a promoted version (older ones only for a rollback or manual promotion).

        Transient failures (registry or storage unreachable) raise, so the broker
        redelivers; a broken or untrusted artifact is counted and the old model stays.
        """
        slot = self.table.slot(event.pipeline)
        allow_older = event.reason in ("rollback", "manual")
        if not self._wanted(slot, event.version, allow_older):
            logger.info(
                "ignoring promotion of %s v%d (%s): serving v%s",
                event.pipeline,
                event.version,
                event.reason,
                slot.current.version if slot.current else None,
            )
            return False
        # The event only says where to look: the registry says what the champion is and
        # which artifacts it has (a forged or stale event moves nothing).
        record = await self.registry.get_champion(event.pipeline)
        if record is None or record.version != event.version:
            known = await self.registry.get_model(event.pipeline, event.version)
            reason = "unknown_version" if known is None else "not_champion"
            self.metrics.model_load_errors.labels(event.pipeline, reason).inc()
            logger.warning(
                "ignoring promotion of %s v%d: the registry's champion is %s",
                event.pipeline,
                event.version,
                f"v{record.version}" if record else "none",
            )
            return False
        return await self._install(
            slot,
            version=event.version,
            spec_version=record.spec_version,
            artifacts=record.artifacts,
            correlation_id=event.correlation_id,
            allow_older=allow_older,
        )

    async def on_pipeline_changed(self, event: PipelineChanged) -> None:
        """Learn a new pipeline or spec version; forget a retired pipeline."""
        if event.change == "retired":
            self.table.remove(event.pipeline)
            self.metrics.model_version.remove(event.pipeline)
            logger.info("pipeline %s retired: no longer served", event.pipeline)
            return
        slot = self.table.slot(event.pipeline)
        slot.latest_spec_version = max(slot.latest_spec_version or 0, event.spec_version)
        await self.loader.spec(event.pipeline, event.spec_version)
        # A pipeline applied again after a restart may already have a champion.
        if slot.current is None:
            await self.reconcile_pipeline(event.pipeline)

    # -- loading ---------------------------------------------------------------------
    def _wanted(self, slot: PipelineSlot, version: int, allow_older: bool) -> bool:
        current = slot.current
        if version in self.refused.get(slot.name, ()):
            return False
        if current is None:
            return True
        return version > current.version or (allow_older and version != current.version)

    async def _install(
        self,
        slot: PipelineSlot,
        *,
        version: int,
        spec_version: int,
        artifacts: ModelArtifacts,
        correlation_id: UUID,
        allow_older: bool,
        expect_generation: int | None = None,
    ) -> bool:
        async with slot.lock:
            # Checked again under the lock: another load may have finished meanwhile.
            if expect_generation is not None and slot.generation != expect_generation:
                return False
            if not self._wanted(slot, version, allow_older):
                return False
            started = time.perf_counter()
            model = await self.loader.load(
                slot,
                version=version,
                spec_version=spec_version,
                artifacts=artifacts,
                correlation_id=correlation_id,
                arm="champion",
            )
            if model is None:
                return False
            self.metrics.model_swap_duration.labels(slot.name).observe(
                time.perf_counter() - started
            )
            previous = slot.swap(model)
            if slot.rollout is not None and slot.rollout.candidate.version == version:
                # The candidate completed its rollout: it now answers as the champion.
                self.rollouts.end(slot, "promoted")
            self.metrics.model_swaps.labels(slot.name).inc()
            self.metrics.model_version.labels(slot.name).set(version)
            self.metrics.logs_dropped.labels(slot.name)  # exported at 0 before any drop
            logger.info(
                "%s now serves v%d (was v%s)",
                slot.name,
                version,
                previous.version if previous else None,
            )
            return True

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        return await retrying(
            call, what="registry call", backoff=Backoff(self.retry_seconds), retryable=retryable
        )
