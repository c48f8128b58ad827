"""Events about models: training requested and finished, versions registered and promoted."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, JsonValue

from continuum.contracts.envelope import Contract, Event, Sha256, VersionNumber
from continuum.contracts.events_data import StoredObject

Trigger = Literal["cold_start", "new_data", "drift", "manual", "schedule", "quality"]
"""Why a training run started. ``cold_start``: the pipeline's first run, once it has
``training.min_rows`` labelled rows (runs recorded before this kind existed say
``new_data``); ``quality``: the cost-aware policy saw a retrain pay."""


class DataVersion(Contract):
    """The ordered batch ids a run trained on, and their hash."""

    batch_ids: list[str]
    hash: Sha256

    @classmethod
    def of(cls, batch_ids: list[str]) -> DataVersion:
        """The data version of exactly these batches, in this order."""
        digest = hashlib.sha256("\n".join(batch_ids).encode()).hexdigest()
        return cls(batch_ids=list(batch_ids), hash=digest)


class TrainingRequested(Event):
    """Someone or something asks the trainer for a run (CLI, API, schedule)."""

    event_type: Literal["continuum.training.requested"] = "continuum.training.requested"
    trigger: Trigger = "manual"
    requested_by: str = Field(default="unknown", description="User, service or schedule name.")
    reason: str = ""


class ModelArtifacts(Contract):
    """What a training run wrote to the artifact store, each checked by sha256 on load."""

    model: StoredObject
    reference_sample: StoredObject
    model_card: StoredObject
    holdout: StoredObject | None = Field(
        default=None,
        description=(
            "The labelled holdout rows the run was scored on (Parquet): the registry scores "
            "the candidate and the champion on them itself. Runs before it existed have none."
        ),
    )
    report: StoredObject | None = Field(
        default=None,
        description=(
            "The run's error-analysis report (HTML): holdout quality, data summary and "
            "drift against the training rows, and the slice table. Older runs have none."
        ),
    )


class ModelTrained(Event):
    """A training run ended. ``status`` says whether it produced a candidate."""

    event_type: Literal["continuum.models.trained"] = "continuum.models.trained"
    run_id: str
    trigger: Trigger
    status: Literal["succeeded", "failed"]
    failure_reason: str | None = None
    spec_version: VersionNumber
    data_version: DataVersion | None = None
    artifacts: ModelArtifacts | None = None
    metric: str | None = Field(default=None, description="The promotion metric's name.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Candidate on holdout.")
    champion_version: VersionNumber | None = None
    champion_metrics: dict[str, float] = Field(
        default_factory=dict, description="Current champion on the same holdout."
    )
    params: dict[str, JsonValue] = Field(default_factory=dict)
    training_seconds: float | None = Field(default=None, ge=0)
    rows_train: int | None = Field(default=None, ge=0)
    rows_holdout: int | None = Field(default=None, ge=0)
    holdout_positives: int | None = Field(
        default=None, ge=0, description="Binary classification: holdout rows of the positive class."
    )
    holdout_negatives: int | None = Field(
        default=None, ge=0, description="Binary classification: holdout rows of the other class."
    )


GateDecision = Literal["promoted", "rejected", "rollout"]
"""``rollout``: passed the gate, but the spec's ``deployment:`` is canary or shadow, so the
version is rolled out against the champion on live traffic first (the champion stays
until the rollout completes with a ``ModelPromoted``)."""


class ModelRegistered(Event):
    """The registry stored a model version and decided on it against the champion."""

    event_type: Literal["continuum.models.registered"] = "continuum.models.registered"
    run_id: str
    version: VersionNumber
    trigger: Trigger
    decision: GateDecision
    decision_reason: str
    metrics: dict[str, float] = Field(default_factory=dict)


class ModelPromoted(Event):
    """A version became the champion: serving and monitor switch to it."""

    event_type: Literal["continuum.models.promoted"] = "continuum.models.promoted"
    version: VersionNumber
    previous_version: VersionNumber | None = None
    artifacts: ModelArtifacts
    reason: Literal["gate", "manual", "rollback"]
    promoted_by: str = "registry"
