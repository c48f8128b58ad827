"""The events the registry publishes, built from what it stored.

They are built inside the store transaction and written to the outbox with the change.
Each keeps the correlation id of the chain it belongs to: a gate decision the training
run's, a manual promotion or rollback the chosen version's (its lineage).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from uuid import UUID

from continuum.contracts import (
    Event,
    ModelPromoted,
    ModelRegistered,
    ModelTrained,
    PipelineChanged,
)
from continuum.registry.store import ModelAnnouncer, SpecAnnouncer
from continuum.registry_client import ModelVersionRecord, PipelineSpecRecord

SOURCE = "continuum-registry"
"""The CloudEvents ``source`` of everything the registry publishes."""


def spec_applied() -> SpecAnnouncer:
    """Announces a new spec version on ``continuum.pipelines.changed``."""

    def announce(record: PipelineSpecRecord) -> Sequence[Event]:
        return [
            PipelineChanged(
                pipeline=record.name,
                spec_version=record.spec_version,
                spec_sha256=record.spec_sha256,
                source_topic=record.spec.source_topic,
            )
        ]

    return announce


def _promoted(
    record: ModelVersionRecord,
    previous: int | None,
    reason: Literal["gate", "manual", "rollback"],
    by: str,
    correlation_id: UUID,
) -> ModelPromoted:
    return ModelPromoted(
        pipeline=record.pipeline,
        correlation_id=correlation_id,
        version=record.version,
        previous_version=previous,
        artifacts=record.artifacts,
        reason=reason,
        promoted_by=by,
    )


def gate_decided(event: ModelTrained) -> ModelAnnouncer:
    """``ModelRegistered`` for the new version, plus ``ModelPromoted`` if it won."""

    def announce(record: ModelVersionRecord, previous: int | None) -> Sequence[Event]:
        registered = ModelRegistered(
            pipeline=record.pipeline,
            correlation_id=event.correlation_id,
            run_id=record.run_id,
            version=record.version,
            trigger=record.trigger,
            decision=record.decision,
            decision_reason=record.decision_reason,
            metrics=record.metrics,
        )
        if record.decision != "promoted":
            return [registered]
        return [registered, _promoted(record, previous, "gate", "registry", event.correlation_id)]

    return announce


def champion_changed(reason: Literal["manual", "rollback"], actor: str) -> ModelAnnouncer:
    """``ModelPromoted`` for a manual promotion or a rollback."""

    def announce(record: ModelVersionRecord, previous: int | None) -> Sequence[Event]:
        correlation = UUID(record.correlation_id)
        return [_promoted(record, previous, reason, actor, correlation)]

    return announce
