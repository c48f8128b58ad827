"""The registry's storage interface and the domain values it speaks.

Like MLflow's stores: callers see API domain objects (``continuum.registry_client``),
never ORM rows, and any backend chosen by URL implements :class:`RegistryStore`.
Every write is one transaction that also appends its audit lines and the events that
announce it to an outbox, so a change and its announcement are never separated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from continuum.contracts import (
    AnyEvent,
    DeploymentPolicy,
    Event,
    GateDecision,
    ModelTrained,
    PipelineSpec,
    TrainingRequested,
)
from continuum.registry_client import (
    AuditEntry,
    ModelVersionRecord,
    PipelineSpecRecord,
    PipelineStatus,
    PipelineSummary,
    RolloutRecord,
    TrainingRunRecord,
)

AuditAction = Literal[
    "spec_applied",
    "version_registered",
    "promoted",
    "rejected",
    "rolled_back",
    "training_requested",
    "rollout_started",
    "rollout_advanced",
    "rollout_completed",
    "rollout_rolled_back",
]


class StoreError(Exception):
    """Base of the store's own errors."""


class NotFoundError(StoreError, LookupError):
    """The pipeline, spec version or model version does not exist."""


class NoPreviousChampionError(StoreError):
    """A rollback was asked for but there is no earlier champion to go back to."""


class RolloutConflictError(StoreError):
    """A rollout cannot start or be aborted as asked (none live, one live, no champion)."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The database could not be reached or was busy: retry later (a transient error)."""


@dataclass(frozen=True, slots=True)
class Promotion:
    """A champion change: the new champion and the one it replaced."""

    champion: ModelVersionRecord
    previous_version: int | None


@dataclass(frozen=True, slots=True)
class LiveRollout:
    """A rollout still routing traffic, with the rules it was started under."""

    record: RolloutRecord
    policy: DeploymentPolicy
    metric: str
    higher_is_better: bool
    passed_reason: str | None = None
    """The current step's latest passing verdict, if it is waiting out ``min_seconds``."""


RolloutMove = Literal["hold", "advance", "complete", "roll_back"]
"""A rollout's next move (``hold`` only notes a passing verdict)."""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event in the outbox not yet confirmed as published."""

    outbox_id: int
    event: AnyEvent


SpecAnnouncer = Callable[[PipelineSpecRecord], Sequence[Event]]
"""Builds the events announcing a stored spec version (called inside the transaction)."""

ModelAnnouncer = Callable[[ModelVersionRecord, int | None], Sequence[Event]]
"""Builds the events announcing a model version / champion change (new, previous champion)."""


class RegistryStore(Protocol):
    """Pipelines, spec versions, training runs, model versions, champions, audit, outbox."""

    def setup(self) -> None:
        """Create the schema if it is missing (idempotent; connects to the database)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    # -- reads ------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise :class:`StoreUnavailableError` if the database cannot be reached."""
        ...

    def list_pipelines(self) -> list[PipelineSummary]:
        """Every pipeline with its latest spec version, champion and version count."""
        ...

    def get_spec(self, name: str, version: int | None = None) -> PipelineSpecRecord | None:
        """A stored spec version (the latest when ``version`` is ``None``)."""
        ...

    def list_models(self, pipeline: str) -> list[ModelVersionRecord]:
        """All versions of ``pipeline``, oldest first."""
        ...

    def get_model(self, pipeline: str, version: int) -> ModelVersionRecord | None:
        """One model version."""
        ...

    def get_champion(self, pipeline: str) -> ModelVersionRecord | None:
        """The current champion, ``None`` before the first promotion."""
        ...

    def champions(self) -> dict[str, int]:
        """Pipeline -> champion version, for every pipeline that has one."""
        ...

    def has_run(self, run_id: str) -> bool:
        """Whether a ``ModelTrained`` run was already recorded."""
        ...

    def list_runs(self, pipeline: str, limit: int = 20) -> list[TrainingRunRecord]:
        """The pipeline's most recent runs, newest first, failed ones with their reason."""
        ...

    def pipeline_status(self, pipeline: str) -> PipelineStatus:
        """Whether the pipeline has a champion, its last run, and a one-line summary."""
        ...

    def audit(self, pipeline: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """Audit entries, newest first."""
        ...

    # -- writes -----------------------------------------------------------------------
    def apply_spec(
        self, spec: PipelineSpec, applied_by: str, announce: SpecAnnouncer
    ) -> PipelineSpecRecord:
        """Store ``spec`` as version N+1, or return the latest with ``unchanged=True``
        (and write nothing) when it is identical."""
        ...

    def record_failed_run(self, event: ModelTrained, reason: str) -> bool:
        """Remember a run that produced no model, with why; ``False`` if already seen."""
        ...

    def register_model(
        self,
        event: ModelTrained,
        *,
        decision: GateDecision,
        reason: str,
        announce: ModelAnnouncer,
    ) -> Promotion | None:
        """Store a succeeded run as version N+1 with its gate decision; when promoted, make
        it the champion; on ``rollout``, start a rollout against the champion (superseding
        a live one). ``None`` if the run was already recorded."""
        ...

    def promote(
        self, pipeline: str, version: int, *, actor: str, reason: str, announce: ModelAnnouncer
    ) -> Promotion:
        """Make a registered version the champion by hand."""
        ...

    def rollback(
        self, pipeline: str, *, actor: str, reason: str, announce: ModelAnnouncer
    ) -> Promotion:
        """Return to the champion before the current one (:class:`NoPreviousChampionError`)."""
        ...

    def record_training_request(self, event: TrainingRequested) -> None:
        """Audit a training request and queue the event."""
        ...

    # -- rollouts ---------------------------------------------------------------------
    def get_rollout(self, pipeline: str) -> RolloutRecord | None:
        """The pipeline's live rollout, else its latest, else ``None``."""
        ...

    def live_rollout(self, rollout_id: str) -> LiveRollout | None:
        """The rollout ``rollout_id`` if it is still live."""
        ...

    def live_rollouts(self) -> list[LiveRollout]:
        """Every live rollout (the clock checks their steps' times)."""
        ...

    def start_rollout(
        self, pipeline: str, version: int, *, actor: str, reason: str
    ) -> RolloutRecord:
        """Roll a registered version out against the champion by hand
        (:class:`RolloutConflictError` without a champion, for the champion, or while one is
        live)."""
        ...

    def move_rollout(
        self, rollout_id: str, step: int, move: RolloutMove, *, actor: str, reason: str
    ) -> RolloutRecord | None:
        """Apply a decision to step ``step`` of a live rollout; ``None`` when the rollout is
        no longer live or at another step (a stale or repeated decision changes nothing)."""
        ...

    def abort_rollout(self, pipeline: str, *, actor: str, reason: str) -> RolloutRecord:
        """Roll the live rollout back now (:class:`RolloutConflictError` when none is live)."""
        ...

    # -- outbox -----------------------------------------------------------------------
    def pending_events(self, limit: int = 100) -> list[PendingEvent]:
        """Events not yet published, oldest first."""
        ...

    def mark_published(self, outbox_ids: Sequence[int]) -> None:
        """Kafka acknowledged these events."""
        ...
