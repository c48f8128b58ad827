"""The registry's HTTP API bodies: the contract between the registry and its callers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from continuum.contracts import (
    DataVersion,
    GateDecision,
    ModelArtifacts,
    PipelineSpec,
    RolloutState,
    Trigger,
    UtcDatetime,
    VersionNumber,
)

MAX_SPEC_YAML_CHARS = 256 * 1024
"""A spec is a page of YAML; anything near this is a mistake, not a pipeline."""

ActorName = Annotated[str, Field(max_length=200, description="Who asked (user or service).")]
Reason = Annotated[str, Field(max_length=2000)]


class ApiModel(BaseModel):
    """Tolerant reader: newer registries may add fields."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ApplySpecRequest(ApiModel):
    """``PUT /v1/pipelines/{name}``: the spec as YAML text (what users keep in git)."""

    spec_yaml: str = Field(min_length=1, max_length=MAX_SPEC_YAML_CHARS)
    applied_by: ActorName = "unknown"


class TrainingRunRecord(ApiModel):
    """A training run the registry heard of (its ``ModelTrained``), with what became of it."""

    run_id: str
    pipeline: str
    status: Literal["succeeded", "failed"]
    trigger: Trigger | None = Field(
        default=None, description="None for runs recorded before the registry kept it."
    )
    spec_version: int | None = None
    failure_reason: str | None = None
    version: int | None = Field(default=None, description="The model version it registered.")
    decision: GateDecision | None = None
    decision_reason: str | None = None
    correlation_id: str | None = None
    received_at: UtcDatetime


class PipelineStatus(ApiModel):
    """Whether a pipeline has a model to serve and, if not, why (its last run)."""

    has_model: bool
    champion_version: int | None = None
    last_run: TrainingRunRecord | None = None
    summary: str = Field(
        description='One line for people, e.g. "no model: last run failed because ...".'
    )


class PipelineSpecRecord(ApiModel):
    """One stored version of a pipeline spec."""

    name: str
    spec_version: int = Field(ge=1)
    spec_sha256: str
    spec: PipelineSpec
    created_at: UtcDatetime
    applied_by: str = "unknown"
    unchanged: bool = Field(
        default=False, description="True when the applied spec equals the latest version."
    )
    status: PipelineStatus | None = Field(
        default=None, description="The pipeline's status; only in GET /v1/pipelines/{name}."
    )


class PipelineSummary(ApiModel):
    """A row of ``GET /v1/pipelines``."""

    name: str
    spec_version: int
    source_topic: str
    task: str
    champion_version: int | None = None
    model_versions: int = 0


class ModelVersionRecord(ApiModel):
    """A registered model version, its metrics and its lineage."""

    pipeline: str
    version: int = Field(ge=1)
    run_id: str
    trigger: Trigger
    spec_version: int
    decision: GateDecision
    decision_reason: str
    metric: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    champion_metrics: dict[str, float] = Field(
        default_factory=dict, description="The champion at training time, on the same holdout."
    )
    artifacts: ModelArtifacts
    data_version: DataVersion | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    training_seconds: float | None = None
    correlation_id: str
    created_at: UtcDatetime
    is_champion: bool = False


class PromoteRequest(ApiModel):
    """``POST /v1/pipelines/{name}/champion``: make a version the champion by hand."""

    version: VersionNumber
    reason: Reason = "manual promotion"
    actor: ActorName = "unknown"


class RollbackRequest(ApiModel):
    """``POST /v1/pipelines/{name}/rollback``: go back to the previous champion."""

    reason: Reason = "manual rollback"
    actor: ActorName = "unknown"


class RolloutRecord(ApiModel):
    """``GET /v1/pipelines/{name}/rollout``: the pipeline's current or latest rollout.

    Shaped like the last ``RolloutChanged`` the registry published for it: a rollout is
    live while ``state`` is ``started`` or ``advanced``; serving routes
    ``traffic_share`` of requests to ``candidate_version`` (shadow: 0.0, a copy only).
    """

    pipeline: str
    rollout_id: str
    strategy: Literal["canary", "shadow"]
    champion_version: int = Field(ge=1)
    candidate_version: int = Field(ge=1)
    step: int = Field(ge=0)
    traffic_share: float = Field(ge=0, le=1)
    state: RolloutState
    reason: str = ""
    started_at: UtcDatetime
    step_started_at: UtcDatetime
    updated_at: UtcDatetime

    @property
    def live(self) -> bool:
        """Whether the rollout still routes traffic (not completed or rolled back)."""
        return self.state in ("started", "advanced")


class StartRolloutRequest(ApiModel):
    """``POST /v1/pipelines/{name}/rollouts``: roll a registered version out by hand.

    The strategy and steps are the spec's ``deployment:`` (canary when it says direct).
    The gate is not asked: this is how an operator tries a version the gate refused.
    """

    version: VersionNumber
    reason: Reason = "manual rollout"
    actor: ActorName = "unknown"


class AbortRolloutRequest(ApiModel):
    """``POST /v1/pipelines/{name}/rollout/abort``: roll the live rollout back now."""

    reason: Reason = "aborted by hand"
    actor: ActorName = "unknown"


class TrainingRequestBody(ApiModel):
    """``POST /v1/pipelines/{name}/training-requests``: ask for a run now."""

    reason: Reason = ""
    requested_by: ActorName = "unknown"


class TrainingRequestAccepted(ApiModel):
    """The request was published on ``continuum.training.requests``."""

    event_id: str
    correlation_id: str


class AuditEntry(ApiModel):
    """One line of the audit log: who did what to which pipeline, and why."""

    id: int
    at: UtcDatetime
    pipeline: str
    action: Literal[
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
    actor: str
    version: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Problem(ApiModel):
    """An error body (``detail`` explains; FastAPI's validation errors are lists)."""

    detail: Any
