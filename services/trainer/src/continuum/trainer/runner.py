"""Runs a pipeline's training runs one at a time, in a worker pool, and publishes results."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from faststream.kafka import KafkaBroker

from continuum.contracts import DataVersion, ModelArtifacts, ModelTrained, Trigger
from continuum.kafka import publish_event, retrying
from continuum.modelkit import ModelCard
from continuum.registry_client import RegistryClient
from continuum.trainer.metrics import TrainerMetrics
from continuum.trainer.settings import TrainerSettings
from continuum.trainer.state import RUN_NAMESPACE, Run, TrainerState
from continuum.trainer.worker import die_with_parent, warm_up

logger = logging.getLogger("continuum.trainer")

TrainFn = Callable[[dict[str, Any]], dict[str, Any]]
SOURCE = "continuum-trainer"
TRIGGERS: tuple[Trigger, ...] = ("new_data", "drift", "manual", "schedule")


def make_executor(settings: TrainerSettings) -> Executor:
    """One worker: a process (spawn/forkserver) so the consumer keeps heartbeating."""
    if settings.worker_mode == "thread":
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="trainer-worker")
    return ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context(settings.mp_context),
        initializer=die_with_parent,
    )


def _trigger(kind: str) -> Trigger:
    for name in TRIGGERS:
        if name == kind:
            return name
    return "manual"


class Runner:
    """Drives each pipeline's runs: freeze the job, train in the pool, publish, finish."""

    def __init__(
        self,
        *,
        settings: TrainerSettings,
        state: Callable[[], TrainerState],
        registry: RegistryClient,
        broker: KafkaBroker,
        metrics: TrainerMetrics,
        train_fn: TrainFn,
        executor_factory: Callable[[], Executor],
    ) -> None:
        self.settings = settings
        self._state = state
        self.registry = registry
        self.broker = broker
        self.metrics = metrics
        self.train_fn = train_fn
        self.executor_factory = executor_factory
        self.executor: Executor | None = None
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.current: dict[str, str] = {}

    @property
    def state(self) -> TrainerState:
        return self._state()

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

    async def _drive(self, pipeline: str) -> None:
        while True:
            run = self.state.running_run(pipeline)
            if run is None:
                queued = self.state.queued_run(pipeline)
                if queued is None:
                    return  # no await between this check and returning: kick() stays correct
                try:
                    job = await self._prepare_job(queued)
                except Exception:  # e.g. the registry answering 500: the ticker re-kicks us
                    logger.exception("could not prepare run %s; will retry", queued.run_id)
                    return
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

    async def _prepare_job(self, run: Run) -> dict[str, Any]:
        """The run's frozen inputs: spec, batches, the champion it is compared with."""
        pipeline = run.pipeline
        record = await retrying(
            lambda: self.registry.get_spec(pipeline),
            what=f"fetching spec of {pipeline}",
            max_wait=self.settings.retry_max_seconds,
        )
        champion = await retrying(
            lambda: self.registry.get_champion(pipeline),
            what=f"fetching champion of {pipeline}",
            max_wait=self.settings.retry_max_seconds,
        )
        champion_json: dict[str, Any] | None = None
        if champion is not None:
            champion_spec = record.spec if record else None
            if record is None or champion.spec_version != record.spec_version:
                old = await retrying(
                    lambda: self.registry.get_spec_version(pipeline, champion.spec_version),
                    what=f"fetching spec v{champion.spec_version} of {pipeline}",
                    max_wait=self.settings.retry_max_seconds,
                )
                champion_spec = old.spec if old else champion_spec
            if champion_spec is not None:
                champion_json = {
                    "version": champion.version,
                    "artifacts": champion.artifacts.model_dump(mode="json"),
                    "spec": champion_spec.model_dump(mode="json", by_alias=True),
                }
        return {
            "pipeline": pipeline,
            "run_id": run.run_id,
            "spec": record.spec.model_dump(mode="json", by_alias=True) if record else None,
            "spec_version": record.spec_version if record else None,
            "data_root": self.settings.data_root,
            "artifact_root": self.settings.artifact_root,
            "batches": [
                {
                    "batch_id": b.batch_id,
                    "uri": b.uri,
                    "sha256": b.sha256,
                    "size_bytes": b.size_bytes,
                }
                for b in self.state.batches(pipeline)
            ],
            "champion": champion_json,
            "triggers": [t.as_json() for t in run.triggers],
            "reference_max_rows": self.settings.reference_max_rows,
            "threads": self.settings.worker_threads,
        }

    async def _execute(self, run: Run) -> None:
        assert run.job is not None
        pipeline, first = run.pipeline, run.triggers[0]
        kinds = ",".join(t.kind for t in run.triggers)
        self.current[pipeline] = run.run_id
        logger.info(
            "run %s for %s started (triggers: %s; %d batches)",
            run.run_id,
            pipeline,
            kinds,
            len(run.job["batches"]),
        )
        started = time.perf_counter()
        base: dict[str, Any] = {
            "event_id": uuid.uuid5(RUN_NAMESPACE, f"{run.run_id}|trained"),
            "pipeline": pipeline,
            "correlation_id": uuid.UUID(first.correlation_id),
            "run_id": run.run_id,
            "trigger": _trigger(first.kind),
            "spec_version": run.job["spec_version"] or 1,
        }
        try:
            if run.job["spec"] is None:
                raise LookupError(f"pipeline {pipeline} has no spec in the registry")
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._pool(), self.train_fn, run.job)
            event = self._succeeded(base, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, BrokenProcessPool):
                self.executor = None  # the worker died (OOM, killed): a new pool next time
            reason = f"{type(exc).__name__}: {exc}"[:2000]
            logger.error("run %s for %s failed: %s", run.run_id, pipeline, reason)
            event = ModelTrained(**base, status="failed", failure_reason=reason)
        seconds = time.perf_counter() - started
        await retrying(
            lambda: publish_event(self.broker, event, source=SOURCE),
            what=f"publishing ModelTrained for {run.run_id}",
            max_wait=self.settings.retry_max_seconds,
        )
        with self.state.transaction() as tx:
            tx.finish_run(run.run_id, event.status)
        self.current.pop(pipeline, None)
        self.metrics.trainings.labels(pipeline, event.trigger, event.status).inc()
        self.metrics.duration.labels(pipeline).observe(seconds)
        logger.info(
            "run %s for %s %s in %.2fs (%s=%s)",
            run.run_id,
            pipeline,
            event.status,
            seconds,
            event.metric,
            event.metrics.get(event.metric or ""),
        )

    @staticmethod
    def _succeeded(base: dict[str, Any], result: dict[str, Any]) -> ModelTrained:
        card = ModelCard.model_validate(result["card"])
        return ModelTrained(
            **base,
            status="succeeded",
            data_version=DataVersion.model_validate(card.data_version.model_dump()),
            artifacts=ModelArtifacts.model_validate(result["artifacts"]),
            metric=card.metric,
            metrics=card.metrics,
            champion_version=card.champion_version,
            champion_metrics=card.champion_metrics,
            params=card.params,
            training_seconds=card.durations_seconds.get("fit_seconds"),
            rows_train=card.rows_train,
            rows_holdout=card.rows_holdout,
        )
