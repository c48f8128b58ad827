"""Runs a pipeline's training runs one at a time, in a worker pool, and publishes results.

A run's inputs come from :mod:`.job_inputs`, its ``ModelTrained`` from :mod:`.outcomes`;
this module drives them: start, skip, train, publish, finish.

Every finished run, succeeded or failed, is published as ``ModelTrained`` and noted in the
state's failure log in the transaction that finishes it; :mod:`continuum.trainer.retries`
decides from that log when a failed run is tried again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from faststream.kafka import KafkaBroker

from continuum.contracts import DataVersion, ModelTrained, utc_now
from continuum.kafka import publish_event
from continuum.registry_client import RegistryClient
from continuum.runtime import Backoff, retrying
from continuum.trainer import outcomes, retries
from continuum.trainer.job_inputs import prepare_job
from continuum.trainer.jobs import TrainFn, TrainingJob, TrainingResult
from continuum.trainer.metrics import TrainerMetrics
from continuum.trainer.records import Run
from continuum.trainer.settings import TrainerSettings
from continuum.trainer.state import TrainerState
from continuum.trainer.worker import die_with_parent, run_job, warm_up

logger = logging.getLogger("continuum.trainer")

SOURCE = "continuum-trainer"


def make_executor(settings: TrainerSettings) -> Executor:
    """One worker: a process (spawn/forkserver) so the consumer keeps heartbeating."""
    if settings.worker_mode == "thread":
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainer-worker")
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context(settings.mp_context),
        initializer=die_with_parent,
    )


def _data_version(job: TrainingJob) -> DataVersion:
    return DataVersion.of([b.batch_id for b in job.batches])


class Runner:
    """Drives each pipeline's runs: freeze the job, train in the pool, publish, finish."""

    def __init__(
        self,
        *,
        settings: TrainerSettings,
        registry: RegistryClient,
        broker: KafkaBroker,
        metrics: TrainerMetrics,
        train_fn: TrainFn,
        executor_factory: Callable[[], Executor],
    ) -> None:
        self.settings = settings
        self._state: TrainerState | None = None
        self.registry = registry
        self.broker = broker
        self.metrics = metrics
        self.train_fn = train_fn
        self.executor_factory = executor_factory
        self.retry_policy = retries.RetryPolicy.from_settings(settings)
        self.executor: Executor | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.current: dict[str, str] = {}

    @property
    def state(self) -> TrainerState:
        """The state the service opened and handed over with :meth:`attach`."""
        if self._state is None:
            raise RuntimeError("the trainer is not started")
        return self._state

    def attach(self, state: TrainerState | None) -> None:
        """Use ``state`` (the service opens it on start; ``None`` once it is closed)."""
        self._state = state

    def kick(self, pipeline: str) -> None:
        """Make sure a task is driving ``pipeline``'s open runs."""
        task = self.tasks.get(pipeline)
        if task is None or task.done():
            self.tasks[pipeline] = asyncio.create_task(
                self._drive(pipeline), name=f"trainer-runs-{pipeline}"
            )

    async def idle(self) -> None:
        """Wait until no run is in progress (tests use it instead of sleeping)."""
        while pending := [t for t in self.tasks.values() if not t.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the drivers (runs stay persisted and resume on restart); stop the pool."""
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        self.tasks.clear()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    def _pool(self) -> Executor:
        if self.executor is None:
            self.executor = self.executor_factory()
            # Import the training stack in the worker now, not when the first run is due.
            self.executor.submit(warm_up)
        return self.executor

    def warm(self) -> None:
        """Start the worker pool ahead of the first run."""
        self._pool()

    def retry_due(self) -> None:
        """Queue the retries of failed runs whose backoff has passed (the ticker calls it)."""
        for pipeline in retries.queue_due_retries(self.state, utc_now()):
            logger.info("retrying the failed run of %s", pipeline)
            self.kick(pipeline)

    def retry_for_new_spec(self, pipeline: str, spec_version: int) -> None:
        """A new spec may fix a failing pipeline: retry its failed run now."""
        if retries.retry_for_new_spec(self.state, pipeline, spec_version):
            logger.info("retrying the failed run of %s with spec v%d", pipeline, spec_version)
            self.kick(pipeline)

    async def _drive(self, pipeline: str) -> None:
        while True:
            run = self.state.running_run(pipeline)
            if run is None:
                queued = self.state.queued_run(pipeline)
                if queued is None:
                    return  # no await between this check and returning: kick() stays correct
                try:
                    job = await prepare_job(
                        queued,
                        self.state.batches(pipeline),
                        registry=self.registry,
                        settings=self.settings,
                    )
                except Exception:  # e.g. the registry answering 500: the ticker re-kicks us
                    logger.exception("could not prepare run %s; will retry", queued.run_id)
                    return
                if job is None:  # nothing to train: fail the run, saying why
                    reason = f"LookupError: pipeline {pipeline} has no spec in the registry"
                    await self._finish(queued, outcomes.failed(queued, reason, 1), 0.0)
                    continue
                if self._skip_same_data(queued, job):
                    continue
                with self.state.transaction() as tx:
                    tx.start_run(queued.run_id, job)
                run = self.state.run(queued.run_id)
                assert run is not None
                self.metrics.pending_triggers.labels(pipeline).set(0)
                self.metrics.new_labelled_rows.labels(pipeline).set(0)
            try:
                await self._execute(run)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one run kill the driver: log, finish, move on
                logger.exception("run %s crashed the runner", run.run_id)
                with self.state.transaction() as tx:
                    tx.finish_run(run.run_id, "failed")
                    reason = "the trainer crashed while finishing this run (see its log)"
                    retries.note_outcome(tx, run, reason, self.retry_policy, utc_now())
                self.metrics.last_run_failed.labels(pipeline).set(1)

    def _skip_same_data(self, run: Run, job: TrainingJob) -> bool:
        """Never train twice on the same data: an automatic run (no manual trigger) whose
        batches (data version) and spec version are the last successful run's is finished
        as ``skipped``, publishing nothing. A new spec version on the same data trains."""
        if any(t.kind == "manual" for t in run.triggers):
            return False
        with self.state.transaction() as tx:
            last = tx.last_success(run.pipeline)
            if last is None or last[1].spec_version != job.spec_version:
                return False
            if _data_version(last[1]).hash != _data_version(job).hash:
                return False
            tx.start_run(run.run_id, job)
            tx.finish_run(run.run_id, "skipped")
        self.metrics.runs_skipped.labels(run.pipeline, "same_data").inc()
        self.metrics.pending_triggers.labels(run.pipeline).set(0)
        kinds = ",".join(t.kind for t in run.triggers)
        logger.info(
            "run %s for %s (%s) skipped: same data as run %s",
            run.run_id,
            run.pipeline,
            kinds,
            last[0],
        )
        return True

    async def _execute(self, run: Run) -> None:
        job = run.job
        if job is None:  # see Run: written by a trainer this one cannot read
            reason = "ValueError: the run's stored job could not be read; trigger a new run"
            await self._finish(run, outcomes.failed(run, reason, 1), 0.0)
            return
        kinds = ",".join(t.kind for t in run.triggers)
        self.current[run.pipeline] = run.run_id
        what = f"triggers: {kinds}; {len(job.batches)} batches"
        logger.info("run %s for %s started (%s)", run.run_id, run.pipeline, what)
        started = time.perf_counter()
        try:
            loop = asyncio.get_running_loop()
            text = await loop.run_in_executor(self._pool(), run_job, self.train_fn, job.to_json())
            event = outcomes.succeeded(run, job, TrainingResult.model_validate_json(text))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, BrokenProcessPool):
                self.executor = None  # the worker died (OOM, killed): a new pool next time
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            logger.error("run %s for %s failed: %s", run.run_id, run.pipeline, reason)
            event = outcomes.failed(run, reason, job.spec_version)
        await self._finish(run, event, time.perf_counter() - started)

    async def _finish(self, run: Run, event: ModelTrained, seconds: float) -> None:
        """Publish the run's outcome, then mark it done and note it for retries."""
        pipeline = run.pipeline
        await retrying(
            lambda: publish_event(self.broker, event, source=SOURCE),
            what=f"publishing ModelTrained for {run.run_id}",
            backoff=Backoff(max_seconds=self.settings.retry_max_seconds),
        )
        with self.state.transaction() as tx:
            tx.finish_run(run.run_id, event.status)
            if event.status == "succeeded":
                tx.policy.note_result(event)  # for the policy, when the gate's decision arrives
            reason = (event.failure_reason or "failed") if event.status == "failed" else None
            failure = retries.note_outcome(tx, run, reason, self.retry_policy, utc_now())
        self.current.pop(pipeline, None)
        self.metrics.trainings.labels(pipeline, event.trigger, event.status).inc()
        self.metrics.duration.labels(pipeline).observe(seconds)
        self.metrics.last_run_failed.labels(pipeline).set(0 if failure is None else 1)
        logger.info(
            "run %s for %s %s in %.2fs (%s=%s)",
            run.run_id,
            pipeline,
            event.status,
            seconds,
            event.metric,
            event.metrics.get(event.metric or ""),
        )
        if failure is not None:
            then = failure.next_retry_at
            plan = f"retry at {then.isoformat()}" if then else "waiting for a new trigger or spec"
            logger.warning("%s: %d failed run(s) in a row; %s", pipeline, failure.failed_runs, plan)
