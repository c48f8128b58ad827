"""Label-aware triggers: a run starts only once its window's labels are in the store.

Retraining the moment drift is detected trains on data from before the change (the drifted
window's labels arrive later). The same holds for a cost-aware ``quality`` decision: the
monitor joined the window's labels (``Feedback``), but the labelled rows the trainer reads
come through ingest, which may not have stored them yet (a run then trains on the last
run's data and is skipped as a duplicate). So a drift (rules policy) or a quality decision
(cost_aware) is kept as the pipeline's pending trigger (``state.policy``, so a restart
keeps it) and starts a run when either

- labelled data covering the window has arrived: a batch with labelled rows and
  ``max_event_time >= window_end`` (checked at once and on every batch), or
- ``triggers.label_wait_seconds`` have passed since it arrived (the ticker checks).

One trigger waits per pipeline; later ones while it waits join it.
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
        if tx.policy.set_pending(pipeline, trigger, event.window_end):
            logger.info("drift on %s: waiting for labels up to %s", pipeline, event.window_end)
        else:
            logger.info("drift on %s: another drift already waits for labels; joined it", pipeline)
    return True


def wait_for_labels(
    tx: TrainerState, pipeline: str, trigger: TriggerRef, window_end: datetime
) -> bool:
    """Queue ``trigger`` now if labels covering ``window_end`` are stored (True), else keep
    it waiting for them (False; :func:`release` starts it later)."""
    if labels_cover(tx.batches(pipeline), window_end) is not None:
        tx.add_trigger(pipeline, trigger)
        return True
    if tx.policy.set_pending(pipeline, trigger, window_end):
        logger.info(
            "%s: %s run waits for labels up to %s", pipeline, trigger.kind, window_end.isoformat()
        )
    else:
        logger.info("%s: a run already waits for labels; %s joined it", pipeline, trigger.kind)
    return False


def _still_wanted(spec: PipelineSpec, kind: str) -> bool:
    triggers = spec.triggers
    if kind == "quality":
        return triggers.policy == "cost_aware"
    return triggers.policy == "rules" and triggers.on_drift


def release(tx: TrainerState, spec: PipelineSpec, pipeline: str, now: datetime) -> bool:
    """Start the pending trigger's run if its labels arrived or it waited long enough."""
    pending = tx.policy.pending(pipeline)
    if pending is None:
        return False
    kind = pending.trigger.kind
    triggers = spec.triggers
    if not _still_wanted(spec, kind) or tx.is_retired(pipeline):
        tx.policy.clear_pending(pipeline)
        logger.info("pending %s run on %s dropped: the spec no longer wants it", kind, pipeline)
        return False
    covering = labels_cover(tx.batches(pipeline), pending.window_end)
    waited = (now - pending.received_at).total_seconds()
    if covering is None and waited < triggers.label_wait_seconds:
        return False
    total = tx.total_labelled_rows(pipeline)
    if total < spec.training.min_rows:
        logger.info("pending %s run on %s waits: only %d labelled rows", kind, pipeline, total)
        return False
    tx.policy.clear_pending(pipeline)
    tx.add_trigger(pipeline, pending.trigger)
    if covering is not None:
        logger.info(
            "%s on %s: labels covering its window (to %s) arrived in batch %s; training",
            kind,
            pipeline,
            pending.window_end.isoformat(),
            covering.batch_id,
        )
    else:
        logger.info(
            "%s on %s: no labels covering its window after %.0fs (label_wait_seconds=%s);"
            " training on what there is",
            kind,
            pipeline,
            waited,
            triggers.label_wait_seconds,
        )
    return True
