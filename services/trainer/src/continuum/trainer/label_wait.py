"""Label-aware drift (rules policy): a drift trains only once its window's labels are in.

Retraining the moment drift is detected trains on data from before the change (the drifted
window's labels arrive later), so a ``DriftDetected`` is kept as a pending drift
(``state.policy``, so a restart keeps it) and starts a run when either

- labelled data covering the drifted window has arrived: a batch with labelled rows and
  ``max_event_time >= window_end`` (checked on the drift itself and on every batch), or
- ``triggers.label_wait_seconds`` have passed since the drift arrived (the ticker checks).

One drift waits per pipeline; later drifts while one waits join it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from continuum.contracts import DriftDetected, PipelineSpec
from continuum.trainer.jobs import TriggerRef
from continuum.trainer.records import BatchRef
from continuum.trainer.state import TrainerState

logger = logging.getLogger("continuum.trainer")


def labels_cover(batches: list[BatchRef], window_end: datetime) -> BatchRef | None:
    """The first batch with labelled rows reaching ``window_end`` (by event time), if any."""
    for batch in batches:
        end = batch.max_event_time
        if (
            batch.labelled_rows > 0
            and end is not None
            and datetime.fromisoformat(end) >= window_end
        ):
            return batch
    return None


def handle_drift(state: TrainerState, spec: PipelineSpec | None, event: DriftDetected) -> bool:
    """``DriftDetected``, idempotently (one transaction): under ``rules`` with ``on_drift``
    it becomes the pending drift (True; :func:`release` may start it at once); under
    ``cost_aware`` it starts nothing."""
    event_id, pipeline = str(event.event_id), event.pipeline
    with state.transaction() as tx:
        if tx.seen(event_id):
            return False
        tx.mark_processed(event_id, pipeline, "drift")
        if spec is None or not spec.triggers.on_drift or tx.is_retired(pipeline):
            logger.info("drift on %s ignored (on_drift off or no spec)", pipeline)
            return False
        if spec.triggers.policy == "cost_aware":
            logger.info("drift on %s: no run under the cost_aware policy", pipeline)
            return False
        trigger = TriggerRef(event_id, "drift", str(event.correlation_id))
        if tx.policy.set_pending_drift(pipeline, trigger, event.window_end):
            logger.info("drift on %s: waiting for labels up to %s", pipeline, event.window_end)
        else:
            logger.info("drift on %s: another drift already waits for labels; joined it", pipeline)
    return True


def release(tx: TrainerState, spec: PipelineSpec, pipeline: str, now: datetime) -> bool:
    """Start the pending drift's run if its labels arrived or it waited long enough."""
    pending = tx.policy.pending_drift(pipeline)
    if pending is None:
        return False
    triggers = spec.triggers
    if triggers.policy != "rules" or not triggers.on_drift or tx.is_retired(pipeline):
        tx.policy.clear_pending_drift(pipeline)
        logger.info("pending drift on %s dropped: the spec no longer trains on drift", pipeline)
        return False
    covering = labels_cover(tx.batches(pipeline), pending.window_end)
    waited = (now - pending.received_at).total_seconds()
    if covering is None and waited < triggers.label_wait_seconds:
        return False
    total = tx.total_labelled_rows(pipeline)
    if total < spec.training.min_rows:
        logger.info("pending drift on %s waits: only %d labelled rows", pipeline, total)
        return False
    tx.policy.clear_pending_drift(pipeline)
    tx.add_trigger(pipeline, pending.trigger)
    if covering is not None:
        logger.info(
            "drift on %s: labels covering its window (to %s) arrived in batch %s; training",
            pipeline,
            pending.window_end.isoformat(),
            covering.batch_id,
        )
    else:
        logger.info(
            "drift on %s: no labels covering its window after %.0fs (label_wait_seconds=%s);"
            " training on what there is",
            pipeline,
            waited,
            triggers.label_wait_seconds,
        )
    return True
