"""A failed run is never the end: bounded exponential backoff, and a new spec retries at once.

Without this, a pipeline whose first run fails (a bad estimator parameter, data that
cannot train) never gets a model: the failed run consumed its triggers and nothing asks
again. So, per pipeline:

- the k-th failed run in a row that anything but a manual request asked for schedules a
  retry after ``min(first * 2**(k-1), max)`` seconds, for at most ``max_retries`` retries;
  after that the pipeline waits for a new trigger or a new spec (a permanent failure does
  not loop);
- a run that only a manual request asked for is not retried (whoever asked sees why);
- a new spec version restarts the count and retries now, since it may be the fix;
- a success forgets it all.

A retry is a new run (the registry is idempotent on run ids), opened by a trigger whose
event id derives from the failed run, with the failed run's trigger kind and correlation
id: it continues the same causal chain. The schedule is in the state's ``failures``
table, so a restart keeps it; the service's ticker queues retries that are due.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from continuum.runtime import Backoff
from continuum.trainer.jobs import TriggerRef
from continuum.trainer.records import RUN_NAMESPACE, Failure, Run
from continuum.trainer.settings import TrainerSettings
from continuum.trainer.state import TrainerState


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait before retrying a failed run, and how often at most."""

    first_seconds: float
    max_seconds: float
    max_retries: int

    @classmethod
    def from_settings(cls, settings: TrainerSettings) -> RetryPolicy:
        """The policy configured by ``CONTINUUM_TRAINER_FAILED_RUN_*``."""
        return cls(
            first_seconds=settings.failed_run_retry_seconds,
            max_seconds=settings.failed_run_retry_max_seconds,
            max_retries=settings.failed_run_retries,
        )

    def delay(self, failed_runs: int) -> float | None:
        """Seconds before retrying after the ``failed_runs``-th failure in a row (``None``:
        the retries are used up)."""
        if failed_runs < 1 or failed_runs > self.max_retries:
            return None
        return Backoff(self.first_seconds, self.max_seconds).delay(failed_runs)


def note_outcome(
    tx: TrainerState, run: Run, reason: str | None, policy: RetryPolicy, now: datetime
) -> Failure | None:
    """Inside the transaction that finishes ``run``: forget the failure on success
    (``reason`` is ``None``), otherwise record it and schedule its retry."""
    if reason is None:
        tx.failures.clear(run.pipeline)
        return None
    previous = tx.failures.get(run.pipeline)
    failed_runs = (previous.failed_runs if previous else 0) + 1
    delay = policy.delay(failed_runs) if run.automatic else None
    tx.failures.record(
        run.pipeline,
        run.run_id,
        reason,
        at=now,
        failed_runs=failed_runs,
        next_retry_at=now + timedelta(seconds=delay) if delay is not None else None,
    )
    return tx.failures.get(run.pipeline)


def queue_due_retries(state: TrainerState, now: datetime) -> list[str]:
    """Open a run for each failure whose retry is due; returns the pipelines to kick."""
    queued: list[str] = []
    for failure in state.failures.due(now):
        pipeline = failure.pipeline
        with state.transaction() as tx:
            if tx.running_run(pipeline) or tx.queued_run(pipeline):
                continue  # that run's outcome decides what happens next
            if not tx.is_retired(pipeline) and _queue_retry(tx, failure, "retry"):
                queued.append(pipeline)
            tx.failures.schedule(pipeline, None)  # issued (or moot): never twice
    return queued


def retry_for_new_spec(state: TrainerState, pipeline: str, spec_version: int) -> bool:
    """A new spec version of a pipeline whose last run failed: restart the count and retry
    now. ``False`` when there is nothing to retry or a queued run will use the new spec."""
    with state.transaction() as tx:
        failure = tx.failures.get(pipeline)
        if failure is None or tx.is_retired(pipeline):
            return False
        tx.failures.schedule(pipeline, None, failed_runs=0)
        if tx.queued_run(pipeline) is not None:
            return False
        # A run still in progress trains the old spec; the retry queues up behind it.
        return _queue_retry(tx, failure, f"spec-v{spec_version}")


def _queue_retry(tx: TrainerState, failure: Failure, salt: str) -> bool:
    failed = tx.run(failure.run_id)
    if failed is None or not failed.triggers:
        return False
    first = failed.triggers[0]
    event_id = str(uuid.uuid5(RUN_NAMESPACE, f"{failure.run_id}|{salt}"))
    tx.add_trigger(failure.pipeline, TriggerRef(event_id, first.kind, first.correlation_id))
    return True
