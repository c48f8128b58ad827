"""Row <-> domain mapping for the SQL store: ORM rows stop here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast, get_args

from continuum.contracts import (
    DataVersion,
    GateDecision,
    ModelArtifacts,
    ModelTrained,
    PipelineSpec,
    Trigger,
)
from continuum.registry.store import AuditAction
from continuum.registry.tables import AuditRow, ModelVersionRow, SpecVersionRow, TrainingRunRow
from continuum.registry_client import (
    AuditEntry,
    ModelVersionRecord,
    PipelineSpecRecord,
    TrainingRunRecord,
)

_TRIGGERS = frozenset(get_args(Trigger))
_DECISIONS = frozenset(get_args(GateDecision))


def aware(value: datetime) -> datetime:
    """A stored time as aware UTC (whatever the backend handed back)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def spec_record(row: SpecVersionRow, *, unchanged: bool = False) -> PipelineSpecRecord:
    """A spec row as the API's record."""
    return PipelineSpecRecord(
        name=row.name,
        spec_version=row.version,
        spec_sha256=row.sha256,
        spec=PipelineSpec.model_validate(row.spec),
        created_at=aware(row.created_at),
        applied_by=row.applied_by,
        unchanged=unchanged,
    )


def spec_row(spec: PipelineSpec, version: int, applied_by: str) -> SpecVersionRow:
    """A new spec row for ``spec`` as version ``version``."""
    return SpecVersionRow(
        name=spec.name,
        version=version,
        sha256=spec.sha256(),
        spec=spec.model_dump(mode="json", by_alias=True),
        applied_by=applied_by[:200],
    )


def model_record(row: ModelVersionRow, champion_version: int | None) -> ModelVersionRecord:
    """A model version row as the API's record."""
    if row.trigger not in _TRIGGERS or row.decision not in _DECISIONS:
        raise ValueError(f"corrupt model_versions row {row.pipeline} v{row.version}")
    return ModelVersionRecord(
        pipeline=row.pipeline,
        version=row.version,
        run_id=row.run_id,
        trigger=cast(Trigger, row.trigger),
        spec_version=row.spec_version,
        decision=cast(GateDecision, row.decision),
        decision_reason=row.decision_reason,
        metric=row.metric,
        metrics=row.metrics,
        champion_metrics=row.champion_metrics,
        artifacts=ModelArtifacts.model_validate(row.artifacts),
        data_version=DataVersion.model_validate(row.data_version) if row.data_version else None,
        params=row.params,
        training_seconds=row.training_seconds,
        correlation_id=row.correlation_id,
        created_at=aware(row.created_at),
        is_champion=row.version == champion_version,
    )


def model_row(
    event: ModelTrained, version: int, decision: GateDecision, reason: str
) -> ModelVersionRow:
    """A new model version row from a succeeded run and its gate decision."""
    if event.artifacts is None:
        raise ValueError("a model version needs artifacts")
    return ModelVersionRow(
        pipeline=event.pipeline,
        version=version,
        run_id=event.run_id,
        trigger=event.trigger,
        spec_version=event.spec_version,
        metric=event.metric,
        metrics=dict(event.metrics),
        champion_metrics=dict(event.champion_metrics),
        artifacts=event.artifacts.model_dump(mode="json"),
        data_version=event.data_version.model_dump(mode="json") if event.data_version else None,
        params=dict(event.params),
        training_seconds=event.training_seconds,
        decision=decision,
        decision_reason=reason,
        correlation_id=str(event.correlation_id),
    )


def run_record(row: TrainingRunRow, model: ModelVersionRow | None) -> TrainingRunRecord:
    """A training run row (and the version it registered, if any) as the API's record."""
    return TrainingRunRecord(
        run_id=row.run_id,
        pipeline=row.pipeline,
        status="succeeded" if row.status == "succeeded" else "failed",
        trigger=cast(Trigger, row.trigger) if row.trigger in _TRIGGERS else None,
        spec_version=row.spec_version,
        failure_reason=row.failure_reason,
        version=row.version,
        decision=cast(GateDecision, model.decision) if model else None,
        decision_reason=model.decision_reason if model else None,
        correlation_id=row.correlation_id,
        received_at=aware(row.received_at),
    )


def audit_row(
    pipeline: str,
    action: AuditAction,
    actor: str,
    version: int | None,
    detail: dict[str, Any] | None,
) -> AuditRow:
    """A new audit line."""
    return AuditRow(
        pipeline=pipeline, action=action, actor=actor[:200], version=version, detail=detail or {}
    )


def audit_entry(row: AuditRow) -> AuditEntry:
    """An audit row as the API's entry."""
    assert row.id is not None
    return AuditEntry.model_validate(
        {
            "id": row.id,
            "at": aware(row.at),
            "pipeline": row.pipeline,
            "action": row.action,
            "actor": row.actor,
            "version": row.version,
            "detail": row.detail,
        }
    )
