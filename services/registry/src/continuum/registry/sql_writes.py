"""The SQL store's write transactions, each a function of an open session.

:class:`continuum.registry.sql_store.SqlRegistryStore` runs each one in a session it
commits (and retries on a lost version race). Every write appends its audit lines and
its announcing events (the outbox) in the same transaction as the change itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, func, select

from continuum.contracts import Event, GateDecision, ModelTrained, PipelineSpec, TrainingRequested
from continuum.contracts.topics import topic_for
from continuum.registry import sql_mapping as mapping
from continuum.registry.champions import current_champion, live_history, set_champion
from continuum.registry.store import (
    AuditAction,
    ModelAnnouncer,
    NoPreviousChampionError,
    NotFoundError,
    Promotion,
    SpecAnnouncer,
)
from continuum.registry.tables import (
    ChampionAliasRow,
    ModelVersionRow,
    OutboxRow,
    SpecVersionRow,
    TrainingRunRow,
    utc_now,
)
from continuum.registry_client import PipelineSpecRecord


def enqueue(session: Session, events: Sequence[Event]) -> None:
    """Put events in the outbox (published after commit)."""
    for event in events:
        session.add(
            OutboxRow(
                topic=topic_for(event),
                key=event.pipeline,
                event_id=str(event.event_id),
                event_json=event.model_dump_json(),
            )
        )


def audit(
    session: Session,
    pipeline: str,
    action: AuditAction,
    actor: str,
    version: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit line."""
    session.add(mapping.audit_row(pipeline, action, actor, version, detail))


def next_version(session: Session, table: type[SpecVersionRow | ModelVersionRow], name: str) -> int:
    """The next version number of ``name`` in ``table``."""
    if session.get_bind().dialect.name == "postgresql":
        # Writers of one pipeline queue here instead of racing for the same number
        # (the unique constraint and the store's retry stay as the safety net).
        key = f"{table.__tablename__}:{name}"
        session.exec(select(func.pg_advisory_xact_lock(func.hashtext(key))))
    owner = col(SpecVersionRow.name) if table is SpecVersionRow else col(ModelVersionRow.pipeline)
    latest = session.exec(select(func.max(col(table.version))).where(owner == name)).one()
    return int(latest or 0) + 1


def latest_spec_row(session: Session, name: str) -> SpecVersionRow | None:
    """The newest spec row of a pipeline."""
    query = select(SpecVersionRow).where(SpecVersionRow.name == name)
    return session.exec(query.order_by(col(SpecVersionRow.version).desc()).limit(1)).first()


def model_row(session: Session, pipeline: str, version: int) -> ModelVersionRow | None:
    """One model version row."""
    query = select(ModelVersionRow).where(
        ModelVersionRow.pipeline == pipeline, ModelVersionRow.version == version
    )
    return session.exec(query).first()


def _run_row(
    event: ModelTrained, version: int | None, failure_reason: str | None = None
) -> TrainingRunRow:
    return TrainingRunRow(
        run_id=event.run_id,
        pipeline=event.pipeline,
        # A run without a model failed, whatever it claimed (e.g. succeeded sans artifacts).
        status="failed" if failure_reason is not None else event.status,
        version=version,
        event_id=str(event.event_id),
        trigger=event.trigger,
        spec_version=event.spec_version,
        failure_reason=failure_reason,
        correlation_id=str(event.correlation_id),
    )


def apply_spec(
    session: Session, spec: PipelineSpec, applied_by: str, announce: SpecAnnouncer
) -> PipelineSpecRecord:
    """Version N+1 of a spec, or the latest (``unchanged``) if identical."""
    latest = latest_spec_row(session, spec.name)
    if latest is not None and latest.sha256 == spec.sha256():
        return mapping.spec_record(latest, unchanged=True)
    row = mapping.spec_row(spec, next_version(session, SpecVersionRow, spec.name), applied_by)
    session.add(row)
    session.flush()
    record = mapping.spec_record(row)
    detail = {"spec_version": row.version, "spec_sha256": row.sha256}
    audit(session, spec.name, "spec_applied", applied_by, None, detail)
    enqueue(session, announce(record))
    return record


def record_failed_run(session: Session, event: ModelTrained, reason: str) -> bool:
    """Record and audit a run without a model; ``False`` if the run was seen before."""
    if session.get(TrainingRunRow, event.run_id) is not None:
        return False
    session.add(_run_row(event, version=None, failure_reason=reason))
    detail = {"run_id": event.run_id, "status": event.status, "reason": reason}
    detail |= {"trigger": event.trigger, "correlation_id": str(event.correlation_id)}
    audit(session, event.pipeline, "rejected", "trainer", None, detail)
    return True


def register_model(
    session: Session,
    event: ModelTrained,
    decision: GateDecision,
    reason: str,
    announce: ModelAnnouncer,
) -> Promotion | None:
    """Store a succeeded run as the next version; promote it if the gate said so."""
    if session.get(TrainingRunRow, event.run_id) is not None:
        return None
    version = next_version(session, ModelVersionRow, event.pipeline)
    row = mapping.model_row(event, version, decision, reason)
    session.add(row)
    session.add(_run_row(event, version=version))
    session.flush()
    if decision == "promoted":
        previous = set_champion(session, event.pipeline, version, "gate", "registry")
        champion: int | None = version
    else:
        previous = champion = current_champion(session, event.pipeline)
    record = mapping.model_record(row, champion)
    detail: dict[str, Any] = {"run_id": event.run_id, "decision": decision, "reason": reason}
    detail |= {"metrics": dict(event.metrics), "correlation_id": str(event.correlation_id)}
    audit(session, event.pipeline, "version_registered", "registry", version, detail)
    if decision != "rollout":  # a rollout's start is audited by the rollout itself
        outcome: AuditAction = "promoted" if decision == "promoted" else "rejected"
        detail = {"reason": reason, "previous_version": previous, "by": "gate"}
        audit(session, event.pipeline, outcome, "registry", version, detail)
    enqueue(session, announce(record, previous))
    return Promotion(record, previous)


def promote(
    session: Session,
    pipeline: str,
    version: int,
    actor: str,
    reason: str,
    announce: ModelAnnouncer,
) -> Promotion:
    """Make a registered version the champion by hand."""
    row = model_row(session, pipeline, version)
    if row is None:
        raise NotFoundError(f"{pipeline} has no model version {version}")
    previous = set_champion(session, pipeline, version, "manual", actor)
    record = mapping.model_record(row, version)
    detail = {"reason": reason, "previous_version": previous, "by": "manual"}
    audit(session, pipeline, "promoted", actor, version, detail)
    enqueue(session, announce(record, previous))
    return Promotion(record, previous)


def rollback(
    session: Session, pipeline: str, actor: str, reason: str, announce: ModelAnnouncer
) -> Promotion:
    """Pop the current champion off the history stack; the one below takes over."""
    current = current_champion(session, pipeline, for_update=True)
    stack = live_history(session, pipeline)
    if current is None or len(stack) < 2:
        raise NoPreviousChampionError(f"{pipeline} has no previous champion to roll back to")
    top, below = stack[0], stack[1]
    top.rolled_back_at = utc_now()
    session.add(top)
    alias = session.get(ChampionAliasRow, pipeline)
    assert alias is not None  # current_champion found it
    alias.version, alias.updated_at = below.version, utc_now()
    session.add(alias)
    row = model_row(session, pipeline, below.version)
    assert row is not None  # history only names registered versions
    record = mapping.model_record(row, below.version)
    detail = {"reason": reason, "from_version": current}
    audit(session, pipeline, "rolled_back", actor, below.version, detail)
    enqueue(session, announce(record, current))
    return Promotion(record, current)


def record_training_request(session: Session, event: TrainingRequested) -> None:
    """Audit a training request and queue its event."""
    detail = {"reason": event.reason, "event_id": str(event.event_id)}
    detail["correlation_id"] = str(event.correlation_id)
    audit(session, event.pipeline, "training_requested", event.requested_by, None, detail)
    enqueue(session, [event])
