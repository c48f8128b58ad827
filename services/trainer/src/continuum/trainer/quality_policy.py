"""The cost-aware policy in the trainer: live quality windows in, ``quality`` runs out.

:class:`~continuum.modelkit.retrain_policy.CostAwarePolicy` is the pure decision rule; this
module feeds it from events and keeps its state in the trainer's SQLite (``state.policy``),
in the transaction that marks the event processed:

- ``QualityMeasured`` (the monitor, one per window of the champion's labelled
  predictions): ``on_window`` with every labelled row the trainer knows as
  ``available_rows``; a ``retrain`` decision opens (or joins) a run with a ``quality``
  trigger whose event id is the window's, and its reason is kept with the trigger.
  Windows of a version other than the policy's champion are ignored.
- ``ModelRegistered`` (the registry's gate decision on one of our runs): ``on_trained``
  with the candidate's and the champion's scores on the run's holdout (from the run's
  ``ModelTrained``), the candidate's standard error on that holdout (for AUC the exact
  Hanley-McNeil error from the holdout's class counts,
  :func:`~continuum.modelkit.metric_noise.auc_std_error`; a run reported before the
  counts were, or another metric, falls back to
  :func:`~continuum.modelkit.metric_noise.holdout_std_error`'s approximation from the
  holdout size, with balanced classes for AUC), and
  ``growth`` when the policy's growth rule asked for the run. The cold-start run's
  registration initialises the state the same way.
- ``ModelPromoted`` by hand or by rollback (no gate decision of ours): the policy follows
  the new champion, with a fresh account and its first window as the reference (nothing
  else is known about it); gate promotions arrive as ``ModelRegistered``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from continuum.contracts import (
    ModelPromoted,
    ModelRegistered,
    ModelTrained,
    PipelineSpec,
    QualityMeasured,
)
from continuum.modelkit.metric_noise import auc_std_error, holdout_std_error
from continuum.modelkit.policy_state import Decision, PolicyState, WindowQuality
from continuum.modelkit.retrain_policy import CostAwarePolicy
from continuum.trainer import label_wait
from continuum.trainer.jobs import TriggerRef
from continuum.trainer.metrics import TrainerMetrics
from continuum.trainer.state import TrainerState

logger = logging.getLogger("continuum.trainer")


def policy_for(spec: PipelineSpec) -> CostAwarePolicy:
    """The decision rule with the spec's metric direction, retrain cost and window."""
    return CostAwarePolicy(
        higher_is_better=spec.higher_is_better,
        retrain_cost=spec.triggers.retrain_cost,
        window_rows=spec.training.window_rows,
    )


@dataclass(frozen=True)
class WindowOutcome:
    """What one window did: the decision (None: ignored), the state after, a run opened."""

    decision: Decision | None
    state: PolicyState
    triggered: bool = False


def on_window(tx: TrainerState, spec: PipelineSpec, event: QualityMeasured) -> WindowOutcome:
    """Account one quality window; open a ``quality`` run if the policy says retrain."""
    pipeline = event.pipeline
    state = tx.policy.get(pipeline) or PolicyState()
    if state.champion_version is not None and event.model_version != state.champion_version:
        logger.info(
            "quality window of %s v%d ignored: the policy's champion is v%d",
            pipeline,
            event.model_version,
            state.champion_version,
        )
        return WindowOutcome(None, state)
    window = WindowQuality(
        model_version=event.model_version,
        value=event.value,
        std_error=event.std_error,
        rows=event.rows,
        drift_share=event.drift_share,
        drifted=event.drifted,
    )
    total = tx.total_labelled_rows(pipeline)
    state, decision = policy_for(spec).on_window(state, window, available_rows=total)
    tx.policy.put(pipeline, state)
    if not decision.retrain:
        logger.debug("%s: wait (%s)", pipeline, decision.reason)
        return WindowOutcome(decision, state)
    if total < spec.training.min_rows:
        logger.info(
            "%s: retrain wanted (%s) but only %d labelled rows", pipeline, decision.reason, total
        )
        return WindowOutcome(decision, state)
    running = tx.running_run(pipeline)
    if running is not None:
        logger.info(
            "%s: retrain wanted (%s); run %s is already training",
            pipeline,
            decision.reason,
            running.run_id,
        )
        return WindowOutcome(decision, state)
    event_id = str(event.event_id)
    trigger = TriggerRef(event_id, "quality", str(event.correlation_id))
    tx.policy.note_trigger(pipeline, event_id, decision.reason, growth=decision.rule == "growth")
    logger.info(
        "%s: retrain (quality window v%d): %s", pipeline, event.model_version, decision.reason
    )
    queued = label_wait.wait_for_labels(tx, pipeline, trigger, event.window_end)
    return WindowOutcome(decision, state, triggered=queued)


def candidate_std_error(metric: str, value: float | None, trained: ModelTrained | None) -> float:
    """The standard error of the candidate's ``metric`` = ``value`` on its run's holdout.

    AUC with the holdout's class counts: exact Hanley-McNeil (an unbalanced holdout is
    noisier than a balanced one of the same size). Otherwise, e.g. a run reported before
    the counts were: the approximation from the holdout's size (0 without a result).
    """
    if trained is None or value is None:
        return 0.0
    positives, negatives = trained.holdout_positives, trained.holdout_negatives
    if metric == "roc_auc" and positives is not None and negatives is not None:
        return auc_std_error(value, positives, negatives)
    return holdout_std_error(metric, value, trained.rows_holdout or 0)


def on_registered(tx: TrainerState, spec: PipelineSpec, event: ModelRegistered) -> PolicyState:
    """The gate decided on one of our runs: the account starts over, the reference learns."""
    pipeline = event.pipeline
    metric = spec.promotion.metric
    state = tx.policy.get(pipeline) or PolicyState()
    trained = tx.policy.result(event.run_id)
    run = tx.run(event.run_id)
    growth = tx.policy.growth(run.triggers) if run is not None else False
    if trained is None:  # e.g. trained before this trainer kept results: the gate's metrics
        logger.info(
            "%s: run %s has no stored result; using the registry's metrics", pipeline, event.run_id
        )
        candidate, champion, rows_train = event.metrics.get(metric), None, 0
    else:
        candidate = trained.metrics.get(metric)
        champion = trained.champion_metrics.get(metric)
        rows_train = trained.rows_train or 0
    promoted = event.decision == "promoted"
    state = policy_for(spec).on_trained(
        state,
        candidate_score=candidate,
        candidate_std_error=candidate_std_error(metric, candidate, trained),
        champion_score=champion,
        promoted=promoted,
        version=event.version if promoted else state.champion_version,
        rows_train=rows_train,
        growth=growth,
    )
    tx.policy.put(pipeline, state)
    logger.info(
        "%s: v%d %s (run %s); policy reference %s, champion v%s",
        pipeline,
        event.version,
        event.decision,
        event.run_id,
        state.reference,
        state.champion_version,
    )
    return state


def handle_window(
    state: TrainerState, spec: PipelineSpec | None, metrics: TrainerMetrics, event: QualityMeasured
) -> bool:
    """``QualityMeasured``, idempotently (one transaction); True if a run was opened."""
    event_id, pipeline = str(event.event_id), event.pipeline
    with state.transaction() as tx:
        if tx.seen(event_id):
            return False
        tx.mark_processed(event_id, pipeline, "quality")
        if spec is None or spec.triggers.policy != "cost_aware" or tx.is_retired(pipeline):
            return False
        outcome = on_window(tx, spec, event)
    if outcome.decision is not None:
        decision = "retrain" if outcome.decision.retrain else "wait"
        metrics.policy_decisions.labels(pipeline, decision).inc()
    metrics.policy_accumulated_loss.labels(pipeline).set(outcome.state.accumulated_loss)
    return outcome.triggered


def handle_registered(
    state: TrainerState, spec: PipelineSpec | None, metrics: TrainerMetrics, event: ModelRegistered
) -> None:
    """``ModelRegistered``, idempotently (one transaction)."""
    event_id = str(event.event_id)
    with state.transaction() as tx:
        if tx.seen(event_id):
            return
        tx.mark_processed(event_id, event.pipeline, "registered")
        if spec is None:
            return
        policy_state = on_registered(tx, spec, event)
    metrics.policy_accumulated_loss.labels(event.pipeline).set(policy_state.accumulated_loss)


def handle_promoted(state: TrainerState, event: ModelPromoted) -> None:
    """A manual promotion or a rollback: follow the champion, start the account over."""
    event_id = str(event.event_id)
    with state.transaction() as tx:
        if tx.seen(event_id):
            return
        tx.mark_processed(event_id, event.pipeline, "promoted")
        current = tx.policy.get(event.pipeline)
        if event.reason == "gate" or current is None:
            return
        if current.champion_version == event.version:
            return
        tx.policy.put(event.pipeline, current.following(event.version))
    logger.info(
        "%s: v%d is the champion (%s); the policy follows it",
        event.pipeline,
        event.version,
        event.reason,
    )
