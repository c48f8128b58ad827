"""Keeps each pipeline's champion loaded: at start, on promotion events, and by reconciling.

The registry is the truth about which version is the champion. Events make a replica
switch within a moment; a slow periodic reconcile repairs anything an event could not
(a promotion published while this replica was starting, a Kafka outage).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from uuid import UUID

from continuum.contracts import ModelArtifacts, ModelPromoted, PipelineChanged, PipelineSpec
from continuum.modelkit import UntrustedModelError
from continuum.registry_client import RegistryClient, RegistryError
from continuum.runtime import Backoff, is_transient, retrying
from continuum.serving.loading import load_and_warm
from continuum.serving.metrics import Arm, ArmMeter, ServingMetrics
from continuum.serving.models import ModelTable, PipelineSlot, ServingModel
from continuum.serving.rollouts import RolloutKeeper
from continuum.storage import IntegrityError, ObjectStore

logger = logging.getLogger(__name__)

T = TypeVar("T")


# An artifact that fails these checks will fail them forever: remember it, do not retry.
_PERMANENT_LOAD_ERRORS = (IntegrityError, UntrustedModelError)


class SpecNotFoundError(LookupError):
    """The registry does not know the spec version a model was trained with."""


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, RegistryError):
        return exc.status_code >= 500
    return is_transient(exc)


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
    ) -> None:
        self.batch_max_rows = batch_max_rows
        self.inline_max_rows = inline_max_rows
        self.table = table
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.retry_seconds = retry_seconds
        self.refused: dict[str, set[int]] = {}
        self._specs: dict[tuple[str, int], PipelineSpec] = {}
        self.rollouts = RolloutKeeper(
            table, registry, metrics, load=self.load_model, refused=self.refused
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
        await self._spec(event.pipeline, event.spec_version)
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
            model = await self.load_model(
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
            _freeze_heap()
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

    async def load_model(
        self,
        slot: PipelineSlot,
        *,
        version: int,
        spec_version: int,
        artifacts: ModelArtifacts,
        correlation_id: UUID,
        arm: Arm,
    ) -> ServingModel | None:
        """``version`` loaded (sha256-checked, skops allowlist) and warmed to answer as ``arm``.

        Transient failures raise (the caller retries); a broken or untrusted artifact is
        counted, remembered as refused and gives ``None``.
        """
        try:
            spec = await self._spec(slot.name, spec_version)
            return await asyncio.to_thread(
                load_and_warm,
                self.store,
                pipeline=slot.name,
                version=version,
                spec_version=spec_version,
                spec=spec,
                artifacts=artifacts,
                correlation_id=correlation_id,
                meter=ArmMeter.bind(self.metrics, slot.name, version, arm),
                batch_max_rows=self.batch_max_rows,
                inline_max_rows=self.inline_max_rows,
            )
        except Exception as exc:
            if _retryable(exc):
                raise
            self.metrics.model_load_errors.labels(slot.name, type(exc).__name__).inc()
            if isinstance(exc, _PERMANENT_LOAD_ERRORS):
                self.refused.setdefault(slot.name, set()).add(version)
            logger.error(
                "cannot load %s v%d as the %s, keeping v%s: %s",
                slot.name,
                version,
                arm,
                slot.current.version if slot.current else None,
                exc,
            )
            return None

    async def _spec(self, pipeline: str, version: int) -> PipelineSpec:
        key = (pipeline, version)
        spec = self._specs.get(key)
        if spec is None:
            record = await self.registry.get_spec_version(pipeline, version)
            if record is None:
                raise SpecNotFoundError(f"registry has no spec v{version} of {pipeline}")
            spec = self._specs[key] = record.spec
        return spec

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        return await retrying(
            call, what="registry call", backoff=Backoff(self.retry_seconds), retryable=_retryable
        )


def _freeze_heap() -> None:
    """Take everything alive now (imports, the models) out of the collector's sight.

    Profiled under load (bench/serving_bench.py), full collections of a heap holding
    sklearn, pandas and a model took ~330 ms each, several times in 10 s: the p99 at 64
    connections was those pauses. Objects loaded once do not need scanning again; a
    frozen object is still freed by reference counting when a swapped-out model goes,
    only a reference cycle in it would stay (a few objects per swap).
    """
    gc.collect(1)  # the load's young garbage, not the (long) full collection
    gc.freeze()
