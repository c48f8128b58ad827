"""The SQL store's rollout transactions: start, move (hold, advance, complete, roll back).

Each runs inside a session the store commits, and writes its audit line and its
``RolloutChanged`` (and, on completion, the ``ModelPromoted``) to the outbox in the same
transaction, like every other registry write. A move names the rollout and the step it
decided on; the live row is locked and checked, so a repeated or stale decision (a
redelivered evaluation, a clock tick racing an evaluation) changes nothing.
"""

from __future__ import annotations

from typing import get_args
from uuid import UUID, uuid4

from sqlmodel import Session, col, select

from continuum.contracts import (
    HIGHER_IS_BETTER,
    DeploymentPolicy,
    ModelPromoted,
    PipelineSpec,
    RolloutChanged,
    RolloutState,
)
from continuum.registry import sql_mapping as mapping
from continuum.registry.champions import current_champion, set_champion
from continuum.registry.sql_writes import audit, enqueue, latest_spec_row, model_row
from continuum.registry.store import (
    AuditAction,
    LiveRollout,
    NotFoundError,
    RolloutConflictError,
    RolloutMove,
)
from continuum.registry.tables import ModelVersionRow, RolloutRow, utc_now
from continuum.registry_client import RolloutRecord

LIVE: tuple[RolloutState, ...] = ("started", "advanced")
_STATES = frozenset(get_args(RolloutState))


def record(row: RolloutRow) -> RolloutRecord:
    """A rollout row as the API's record."""
    assert row.state in _STATES
    return RolloutRecord(
        pipeline=row.pipeline,
        rollout_id=row.rollout_id,
        strategy="shadow" if row.strategy == "shadow" else "canary",
        champion_version=row.champion_version,
        candidate_version=row.candidate_version,
        step=row.step,
        traffic_share=row.traffic_share,
        state=row.state,  # checked against RolloutState above
        reason=row.reason,
        started_at=mapping.aware(row.started_at),
        step_started_at=mapping.aware(row.step_started_at),
        updated_at=mapping.aware(row.updated_at),
    )


def live(row: RolloutRow) -> LiveRollout:
    """A live row with the rules it was started under."""
    return LiveRollout(
        record=record(row),
        policy=DeploymentPolicy.model_validate(row.policy),
        metric=row.metric,
        higher_is_better=row.higher_is_better,
        passed_reason=row.passed_reason,
    )


def live_row(session: Session, pipeline: str, *, for_update: bool = False) -> RolloutRow | None:
    """The pipeline's live rollout row (locked on PostgreSQL with ``for_update``)."""
    query = select(RolloutRow).where(
        RolloutRow.pipeline == pipeline, col(RolloutRow.state).in_(LIVE)
    )
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def latest_row(session: Session, pipeline: str) -> RolloutRow | None:
    """The pipeline's newest rollout, live or not."""
    query = select(RolloutRow).where(RolloutRow.pipeline == pipeline)
    return session.exec(query.order_by(col(RolloutRow.id).desc()).limit(1)).first()


def live_rows(session: Session) -> list[RolloutRow]:
    """Every live rollout, oldest first."""
    query = select(RolloutRow).where(col(RolloutRow.state).in_(LIVE))
    return list(session.exec(query.order_by(col(RolloutRow.id))).all())


def _announce(
    session: Session, row: RolloutRow, state: RolloutState, action: AuditAction, actor: str
) -> None:
    row.state, row.updated_at = state, utc_now()
    session.add(row)
    detail = {
        "rollout_id": row.rollout_id,
        "strategy": row.strategy,
        "champion_version": row.champion_version,
        "step": row.step,
        "traffic_share": row.traffic_share,
        "reason": row.reason,
    }
    audit(session, row.pipeline, action, actor, row.candidate_version, detail)
    enqueue(
        session,
        [
            RolloutChanged(
                pipeline=row.pipeline,
                correlation_id=UUID(row.correlation_id),
                rollout_id=row.rollout_id,
                strategy="shadow" if row.strategy == "shadow" else "canary",
                champion_version=row.champion_version,
                candidate_version=row.candidate_version,
                step=row.step,
                traffic_share=row.traffic_share,
                state=state,
                reason=row.reason,
            )
        ],
    )


def _roll_back(session: Session, row: RolloutRow, actor: str, reason: str) -> None:
    row.reason, row.passed_reason = reason, None
    _announce(session, row, "rolled_back", "rollout_rolled_back", actor)


def start(
    session: Session, candidate: ModelVersionRow, *, actor: str, reason: str, manual: bool
) -> RolloutRow:
    """Start rolling ``candidate`` out against the champion, by the latest spec's
    ``deployment:`` (a manual start of a ``direct`` pipeline is a canary with its steps).

    A gate-driven start supersedes a live rollout (rolled back, "superseded by vN"): the
    newer candidate was trained on newer data. A manual one refuses to (409).
    """
    pipeline = candidate.pipeline
    champion = current_champion(session, pipeline, for_update=True)
    if champion is None:
        raise RolloutConflictError(f"{pipeline} has no champion to roll out against")
    if champion == candidate.version:
        raise RolloutConflictError(f"{pipeline} v{candidate.version} is already the champion")
    spec_row = latest_spec_row(session, pipeline)
    if spec_row is None:
        raise NotFoundError(f"no pipeline named {pipeline}")
    spec = PipelineSpec.model_validate(spec_row.spec)
    policy = spec.deployment
    if policy.strategy == "direct":
        policy = policy.model_copy(update={"strategy": "canary"})
    running = live_row(session, pipeline, for_update=True)
    if running is not None:
        if manual:
            raise RolloutConflictError(
                f"{pipeline} is rolling out v{running.candidate_version}"
                f" ({running.rollout_id}): abort it first"
            )
        _roll_back(session, running, actor, f"superseded by v{candidate.version}")
    row = RolloutRow(
        rollout_id=str(uuid4()),
        pipeline=pipeline,
        strategy=policy.strategy,
        champion_version=champion,
        candidate_version=candidate.version,
        step=0,
        traffic_share=policy.traffic_share(0),
        state="started",
        reason=reason,
        policy=policy.model_dump(mode="json"),
        metric=spec.promotion.metric,
        higher_is_better=HIGHER_IS_BETTER[spec.promotion.metric],
        correlation_id=candidate.correlation_id,
    )
    session.add(row)
    session.flush()
    _announce(session, row, "started", "rollout_started", actor)
    return row


def start_by_hand(
    session: Session, pipeline: str, version: int, *, actor: str, reason: str
) -> RolloutRecord:
    """``POST /v1/pipelines/{name}/rollouts``: the gate is not asked."""
    candidate = model_row(session, pipeline, version)
    if candidate is None:
        raise NotFoundError(f"{pipeline} has no model version {version}")
    return record(start(session, candidate, actor=actor, reason=reason, manual=True))


def move(
    session: Session, rollout_id: str, step: int, how: RolloutMove, *, actor: str, reason: str
) -> RolloutRecord | None:
    """Apply one decision to the live step; ``None`` if the rollout moved on already."""
    query = select(RolloutRow).where(RolloutRow.rollout_id == rollout_id)
    row = session.exec(query.with_for_update()).first()
    if row is None or row.state not in LIVE or row.step != step:
        return None
    if how == "hold":  # a passing verdict waiting out min_seconds: remember it, say nothing
        if row.passed_reason == reason:
            return None
        row.passed_reason = reason
        session.add(row)
        return record(row)
    if how == "roll_back":
        _roll_back(session, row, actor, reason)
        return record(row)
    policy = DeploymentPolicy.model_validate(row.policy)
    now = utc_now()
    row.step, row.step_started_at, row.passed_reason, row.reason = step + 1, now, None, reason
    if how == "advance":
        row.traffic_share = policy.traffic_share(row.step)
        _announce(session, row, "advanced", "rollout_advanced", actor)
        return record(row)
    # complete: the candidate becomes the champion by the usual promotion path.
    row.step = min(row.step, policy.step_count() - 1)
    row.traffic_share = policy.traffic_share(row.step)
    candidate = model_row(session, row.pipeline, row.candidate_version)
    assert candidate is not None  # a rollout only names registered versions
    previous = set_champion(session, row.pipeline, row.candidate_version, "rollout", actor)
    champion = mapping.model_record(candidate, row.candidate_version)
    detail = {"reason": reason, "previous_version": previous, "by": "rollout"}
    detail["rollout_id"] = row.rollout_id
    audit(session, row.pipeline, "promoted", actor, row.candidate_version, detail)
    enqueue(
        session,
        [
            ModelPromoted(
                pipeline=row.pipeline,
                correlation_id=UUID(row.correlation_id),
                version=row.candidate_version,
                previous_version=previous,
                artifacts=champion.artifacts,
                reason="gate",
                promoted_by="registry-rollout",
            )
        ],
    )
    _announce(session, row, "completed", "rollout_completed", actor)
    return record(row)


def abort(session: Session, pipeline: str, *, actor: str, reason: str) -> RolloutRecord:
    """Roll the live rollout back now."""
    row = live_row(session, pipeline, for_update=True)
    if row is None:
        raise RolloutConflictError(f"{pipeline} has no live rollout")
    _roll_back(session, row, actor, reason)
    return record(row)


def end_live(session: Session, pipeline: str, *, actor: str, reason: str) -> None:
    """Roll back a live rollout because the champion changed by hand under it."""
    row = live_row(session, pipeline, for_update=True)
    if row is not None:
        _roll_back(session, row, actor, reason)
