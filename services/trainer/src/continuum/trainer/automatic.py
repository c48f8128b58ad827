"""When the trainer opens a run by itself on new rows or on its schedule.

Each decision reads and changes the state inside the caller's transaction and says whether
it queued a trigger; the service fetches the spec first and kicks the runner afterwards.
Drift (:mod:`.label_wait`) and live quality (:mod:`.quality_policy`) decide elsewhere.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from continuum.contracts import PipelineSpec
from continuum.trainer.jobs import TriggerRef
from continuum.trainer.records import RUN_NAMESPACE
from continuum.trainer.state import TrainerState


def new_rows(tx: TrainerState, spec: PipelineSpec, pipeline: str) -> bool:
    """Queue the newest batch as a trigger if the rows call for a run; True if queued.

    Needs ``training.min_rows`` labelled rows in total. Cold start: a pipeline without any
    run trains as soon as it has them (if ``triggers.cold_start``; trigger ``cold_start``),
    instead of waiting for a full retrain threshold. Otherwise only the rules policy trains
    on new rows (``new_data``), once ``triggers.min_new_labelled_rows`` arrived since the
    last run started.
    """
    if tx.is_retired(pipeline):
        return False
    trigger = tx.last_batch_trigger(pipeline)
    if trigger is None or tx.total_labelled_rows(pipeline) < spec.training.min_rows:
        return False
    threshold = spec.triggers.min_new_labelled_rows
    if spec.triggers.cold_start and not tx.runs(pipeline):
        trigger = TriggerRef(trigger.event_id, "cold_start", trigger.correlation_id)
    elif (
        spec.triggers.policy == "cost_aware"  # new rows alone: no run
        or threshold is None
        or tx.new_labelled_rows(pipeline) < threshold
    ):
        return False
    tx.add_trigger(pipeline, trigger)  # idempotent on the batch event id
    return True


def scheduled(tx: TrainerState, spec: PipelineSpec, pipeline: str, now: datetime) -> bool:
    """Queue a ``schedule`` trigger if ``triggers.schedule_seconds`` passed since the last
    run started and labelled rows arrived since; True if queued.

    The trigger's event id is derived from the schedule slot, so a slot fires once even
    when several ticks (or a restart) fall into it.
    """
    every = spec.triggers.schedule_seconds
    if every is None:
        return False
    anchor = tx.schedule_anchor(pipeline)
    if anchor is None or (now - anchor).total_seconds() < every:
        return False
    if tx.new_labelled_rows(pipeline) == 0 or tx.queued_run(pipeline) is not None:
        return False
    if tx.is_retired(pipeline) or tx.total_labelled_rows(pipeline) < spec.training.min_rows:
        return False
    slot = int(now.timestamp() // every)
    event_id = str(uuid.uuid5(RUN_NAMESPACE, f"{pipeline}|schedule|{slot}"))
    if tx.seen(event_id):
        return False
    tx.mark_processed(event_id, pipeline, "schedule")
    tx.add_trigger(pipeline, TriggerRef(event_id, "schedule", event_id))
    return True
