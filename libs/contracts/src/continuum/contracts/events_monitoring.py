"""Events about the running model: predictions served, drift found, pipeline specs changed."""

from __future__ import annotations

from typing import Literal
from uuid import uuid5

from pydantic import Field, JsonValue

from continuum.contracts.envelope import Contract, Event, Sha256, UtcDatetime


class PredictionLogged(Event):
    """Serving answered one record; the monitor builds its windows from these."""

    event_type: Literal["continuum.predictions.logged"] = "continuum.predictions.logged"
    request_id: str
    model_version: int = Field(ge=1)
    features: dict[str, JsonValue]
    prediction: JsonValue
    probabilities: dict[str, float] | None = None
    entity_id: str | None = None
    event_time: UtcDatetime | None = None


class PredictionRecord(Contract):
    """One prediction of a :class:`PredictionsLogged` batch: a ``PredictionLogged`` without
    the fields the whole batch shares."""

    request_id: str
    occurred_at: UtcDatetime
    features: dict[str, JsonValue]
    prediction: JsonValue
    probabilities: dict[str, float] | None = None
    entity_id: str | None = None
    event_time: UtcDatetime | None = None


class PredictionsLogged(Event):
    """Serving answered many records with one model version: one message for all of them.

    What serving publishes (one message per batch of up to a few hundred predictions, one
    signature, one produce call): a message per prediction cost more than serving itself
    at its peak rate. ``correlation_id`` and ``model_version`` are the model's, shared by
    every prediction; each prediction keeps its own time, request id and features.
    """

    event_type: Literal["continuum.predictions.batch_logged"] = "continuum.predictions.batch_logged"
    model_version: int = Field(ge=1)
    predictions: list[PredictionRecord] = Field(min_length=1)
    # Rollouts (all defaulted, so messages from before rollouts still decode): which arm
    # answered these records (shadow: logged, never returned), for which rollout, the
    # model time they took, and the records this arm failed since its last message (each
    # answered by the champion instead), so the monitor can judge the candidate's health.
    arm: Literal["champion", "candidate", "shadow"] = "champion"
    rollout_id: str | None = None
    inference_seconds: float = Field(default=0.0, ge=0, description="Model time on these.")
    errors: int = Field(default=0, ge=0, description="Records this arm failed to answer.")

    def events(self) -> list[PredictionLogged]:
        """One ``PredictionLogged`` per prediction, as a consumer handles them.

        Each gets an event id derived from this batch's id and its position, so a
        redelivered batch yields the same ids (consumers deduplicate on them).
        """
        return [
            PredictionLogged.model_construct(
                event_id=uuid5(self.event_id, str(index)),
                schema_version=self.schema_version,
                occurred_at=p.occurred_at,
                pipeline=self.pipeline,
                correlation_id=self.correlation_id,
                request_id=p.request_id,
                model_version=self.model_version,
                features=p.features,
                prediction=p.prediction,
                probabilities=p.probabilities,
                entity_id=p.entity_id,
                event_time=p.event_time,
            )
            for index, p in enumerate(self.predictions)
        ]


class ColumnDrift(Contract):
    """Drift of one column between the reference and the current window."""

    column: str
    method: str
    score: float
    threshold: float
    drifted: bool


class DriftDetected(Event):
    """The monitor found drift that its policy says is worth acting on."""

    event_type: Literal["continuum.drift.detected"] = "continuum.drift.detected"
    model_version: int = Field(ge=1)
    window_start: UtcDatetime
    window_end: UtcDatetime
    window_rows: int = Field(ge=1)
    drift_share: float = Field(ge=0, le=1, description="Share of feature columns that drifted.")
    threshold: float = Field(ge=0, le=1)
    columns: list[ColumnDrift]
    prediction_drift: ColumnDrift | None = None


class QualityMeasured(Event):
    """The champion's live quality on one window of labelled predictions.

    The monitor emits one per ``monitoring.window_rows`` predictions of the champion whose
    delayed labels arrived; the trainer's cost-aware policy decides on these. ``drift_share``
    is the champion's latest drift window, an early signal rather than a trigger.
    """

    event_type: Literal["continuum.quality.measured"] = "continuum.quality.measured"
    model_version: int = Field(ge=1)
    window_start: UtcDatetime
    window_end: UtcDatetime
    rows: int = Field(ge=1, description="Labelled predictions in the window.")
    metric: str = Field(description="The promotion metric's name.")
    value: float = Field(allow_inf_nan=False, description="The promotion metric on the window.")
    std_error: float = Field(ge=0, allow_inf_nan=False, description="Its standard error.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Every live metric.")
    drift_share: float | None = Field(default=None, ge=0, le=1)
    drifted: bool = Field(default=False, description="The latest drift window crossed its bar.")


class PipelineChanged(Event):
    """The registry stored a new version of a pipeline spec (or retired the pipeline)."""

    event_type: Literal["continuum.pipelines.changed"] = "continuum.pipelines.changed"
    spec_version: int = Field(ge=1)
    spec_sha256: Sha256
    change: Literal["applied", "retired"] = "applied"
    source_topic: str
