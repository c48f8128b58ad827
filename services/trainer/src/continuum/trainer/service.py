"""The trainer's event handling and lifecycle: remember batches, start runs, keep state durable.

Each handler changes state in one transaction and returns only after it committed, so
the broker commits the offset only once the effect is on disk; processed event ids make
a redelivery a no-op. Trigger policy (``triggers.policy`` in the spec):

- ``cost_aware`` (default): ``quality`` runs when the champion's live metric
  (``QualityMeasured`` windows) shows a retrain pays for itself (:mod:`.quality_policy`;
  ``ModelRegistered`` tells the policy how each run went). New rows and drift alone start
  no run (drift only makes the policy listen harder).
- ``rules``: ``new_data`` when labelled rows since the last run started reach
  ``triggers.min_new_labelled_rows`` (:mod:`.automatic`); ``drift`` on a ``DriftDetected`` when
  ``triggers.on_drift``, once labels covering the drifted window arrived or after
  ``triggers.label_wait_seconds`` (:mod:`.label_wait`).
- Both: ``cold_start`` (a pipeline that never trained trains once it has
  ``training.min_rows`` labelled rows, if ``triggers.cold_start``); ``schedule`` every
  ``triggers.schedule_seconds`` after the last run started, if labelled rows arrived since;
  ``manual``: every ``TrainingRequested`` (a run with too few rows fails, and says so).

Automatic triggers also need ``training.min_rows`` labelled rows in total, and an automatic
run whose batches and spec version are the last successful run's is skipped (``Runner``).
Triggers that arrive while a run is in progress coalesce into one queued follow-up run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from continuum.contracts import (
    DataBatchReady,
    DriftDetected,
    ModelPromoted,
    ModelRegistered,
    PipelineChanged,
    PipelineSpec,
    QualityMeasured,
    TrainingRequested,
    utc_now,
)
from continuum.registry_client import RegistryClient
from continuum.runtime import Backoff, retrying
from continuum.trainer import automatic, health, label_wait, quality_policy
from continuum.trainer.jobs import TriggerRef
from continuum.trainer.metrics import TrainerMetrics
from continuum.trainer.records import BatchRef
from continuum.trainer.runner import Runner
from continuum.trainer.settings import TrainerSettings
from continuum.trainer.state import TrainerState

logger = logging.getLogger("continuum.trainer")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class TrainerService:
    """Handlers and the schedule loop; :class:`Runner` does the runs."""

    def __init__(
        self,
        settings: TrainerSettings,
        registry: RegistryClient,
        metrics: TrainerMetrics,
        runner: Runner,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.metrics = metrics
        self.runner = runner
        self._state: TrainerState | None = None
        self._specs: dict[str, PipelineSpec] = {}
        self._ticker: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------
    @property
    def state(self) -> TrainerState:
        if self._state is None:
            raise RuntimeError("the trainer is not started")
        return self._state

    @property
    def started(self) -> bool:
        return self._state is not None

    async def start(self) -> None:
        """Open the state, resume unfinished runs, start the schedule loop."""
        self._state = TrainerState.open(self.settings.state_dir)
        self.runner.attach(self._state)
        for pipeline in self.state.pipelines():
            self._update_gauges(pipeline)
        for pipeline in self.state.pipelines_with_open_runs():
            running = self.state.running_run(pipeline)
            if running:
                logger.info("resuming run %s for %s", running.run_id, pipeline)
            self.runner.kick(pipeline)
        self._ticker = asyncio.create_task(self._tick_loop(), name="trainer-ticker")
        self.runner.warm()

    async def stop(self) -> None:
        """Stop the loop and the runs (they resume on the next start), close the state."""
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        await self.runner.stop()
        self.runner.attach(None)
        if self._state is not None:
            self._state.close()
            self._state = None

    async def health(self) -> dict[str, object]:
        """``starting`` until the state is open, then :func:`.health.report`."""
        if not self.started:
            return {"status": "starting", "service": "trainer"}
        return health.report(self.state, self.runner.current)

    # -- specs ------------------------------------------------------------------------
    async def spec(self, pipeline: str, *, attempts: int | None = 3) -> PipelineSpec | None:
        """The pipeline's latest spec (cached until ``PipelineChanged``)."""
        if pipeline not in self._specs:
            record = await retrying(
                lambda: self.registry.get_spec(pipeline),
                what=f"fetching spec of {pipeline}",
                attempts=attempts,
                backoff=Backoff(max_seconds=self.settings.retry_max_seconds),
            )
            if record is None:
                return None
            self._specs[pipeline] = record.spec
        return self._specs[pipeline]

    async def _spec_or_none(self, pipeline: str) -> PipelineSpec | None:
        try:
            return await self.spec(pipeline, attempts=1)
        except Exception as exc:
            logger.warning("spec of %s unavailable (%s); will check again", pipeline, exc)
            return None

    # -- handlers ---------------------------------------------------------------------
    async def on_batch(self, event: DataBatchReady) -> None:
        """Remember the batch and count its labelled rows; maybe trigger ``new_data``."""
        event_id = str(event.event_id)
        with self.state.transaction() as tx:
            if tx.seen(event_id):
                logger.info("duplicate batch event %s ignored", event_id)
                return
            tx.mark_processed(event_id, event.pipeline, "batch")
            tx.add_batch(
                event.pipeline,
                BatchRef(
                    batch_id=event.batch_id,
                    uri=event.storage.uri,
                    sha256=event.storage.sha256,
                    size_bytes=event.storage.size_bytes,
                    rows=event.row_count,
                    labelled_rows=event.labelled_row_count,
                    min_event_time=_iso(event.min_event_time),
                    max_event_time=_iso(event.max_event_time),
                ),
                TriggerRef(event_id, "new_data", str(event.correlation_id)),
            )
        logger.info(
            "batch %s for %s: %d rows, %d labelled (%d new since last run)",
            event.batch_id,
            event.pipeline,
            event.row_count,
            event.labelled_row_count,
            self.state.new_labelled_rows(event.pipeline),
        )
        # Best effort: without the registry the ticker decides later (the batch is saved).
        await self._maybe_new_data(event.pipeline)
        await self._maybe_release_waiting(event.pipeline)
        self._update_gauges(event.pipeline)

    async def on_drift(self, event: DriftDetected) -> None:
        """rules: a drift trigger once the drifted window's labels are in (or waited for);
        cost_aware: no run (the policy hears of drift through ``QualityMeasured``)."""
        if self.state.seen(str(event.event_id)):
            return
        spec = await self.spec(event.pipeline)  # transient failure: redelivered
        if label_wait.handle_drift(self.state, spec, event):
            await self._maybe_release_waiting(event.pipeline)

    async def on_quality(self, event: QualityMeasured) -> None:
        """cost_aware: account the champion's live quality window; maybe a ``quality`` run."""
        if self.state.seen(str(event.event_id)):
            return
        spec = await self.spec(event.pipeline)  # transient failure: redelivered
        if quality_policy.handle_window(self.state, spec, self.metrics, event):
            self._triggered(event.pipeline)
        await self._maybe_release_waiting(event.pipeline)

    async def on_registered(self, event: ModelRegistered) -> None:
        """The registry's gate decision on a run: the cost-aware policy learns from it."""
        if self.state.seen(str(event.event_id)):
            return
        spec = await self.spec(event.pipeline)
        quality_policy.handle_registered(self.state, spec, self.metrics, event)

    async def on_promoted(self, event: ModelPromoted) -> None:
        """A manual promotion or rollback: the cost-aware policy follows the champion."""
        quality_policy.handle_promoted(self.state, event)

    async def on_request(self, event: TrainingRequested) -> None:
        """A requested run always happens (and fails with a reason if it cannot train)."""
        event_id = str(event.event_id)
        with self.state.transaction() as tx:
            if tx.seen(event_id):
                return
            tx.mark_processed(event_id, event.pipeline, "request")
            tx.add_trigger(
                event.pipeline, TriggerRef(event_id, event.trigger, str(event.correlation_id))
            )
        logger.info("training requested for %s by %s", event.pipeline, event.requested_by)
        self._triggered(event.pipeline)

    async def on_pipeline_changed(self, event: PipelineChanged) -> None:
        """Forget the cached spec; a lowered threshold may now trigger a run."""
        event_id = str(event.event_id)
        with self.state.transaction() as tx:
            if tx.seen(event_id):
                return
            tx.mark_processed(event_id, event.pipeline, "pipeline")
            tx.set_retired(event.pipeline, event.change == "retired")
        self._specs.pop(event.pipeline, None)
        logger.info("pipeline %s %s (spec v%d)", event.pipeline, event.change, event.spec_version)
        if event.change == "applied":
            await self._maybe_new_data(event.pipeline)
            self.runner.retry_for_new_spec(event.pipeline, event.spec_version)
            self._update_gauges(event.pipeline)

    # -- trigger policy ---------------------------------------------------------------
    async def _maybe_new_data(self, pipeline: str) -> None:
        spec = await self._spec_or_none(pipeline)
        if spec is None:
            return
        with self.state.transaction() as tx:
            queued = automatic.new_rows(tx, spec, pipeline)
        if queued:
            self._triggered(pipeline)

    async def _maybe_release_waiting(self, pipeline: str) -> None:
        if self.state.policy.pending(pipeline) is None:
            return
        spec = await self._spec_or_none(pipeline)
        if spec is None:
            return
        with self.state.transaction() as tx:
            released = label_wait.release(tx, spec, pipeline, utc_now())
        if released:
            self._triggered(pipeline)

    async def _maybe_schedule(self, pipeline: str) -> None:
        spec = await self._spec_or_none(pipeline)
        if spec is None or spec.triggers.schedule_seconds is None:
            return
        with self.state.transaction() as tx:
            queued = automatic.scheduled(tx, spec, pipeline, utc_now())
        if queued:
            logger.info(
                "scheduled run for %s (every %ss)", pipeline, spec.triggers.schedule_seconds
            )
            self._triggered(pipeline)

    async def tick(self) -> None:
        """One pass of the schedule loop (also catches triggers deferred by an outage and
        queues the retries of failed runs that are due)."""
        for pipeline in self.state.pipelines():
            await self._maybe_new_data(pipeline)
            await self._maybe_schedule(pipeline)
            await self._maybe_release_waiting(pipeline)
            self._update_gauges(pipeline)
        self.runner.retry_due()
        for pipeline in self.state.pipelines_with_open_runs():
            self.runner.kick(pipeline)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick_seconds)
            try:
                await self.tick()
            except Exception:
                logger.exception("trainer tick failed")

    def _triggered(self, pipeline: str) -> None:
        self._update_gauges(pipeline)
        self.runner.kick(pipeline)

    def _update_gauges(self, pipeline: str) -> None:
        self.metrics.touch(pipeline)
        queued = self.state.queued_run(pipeline)
        self.metrics.pending_triggers.labels(pipeline).set(len(queued.triggers) if queued else 0)
        self.metrics.new_labelled_rows.labels(pipeline).set(self.state.new_labelled_rows(pipeline))
        failed = self.state.failures.get(pipeline) is not None
        self.metrics.last_run_failed.labels(pipeline).set(1 if failed else 0)
