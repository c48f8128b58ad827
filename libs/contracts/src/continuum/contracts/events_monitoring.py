"""Events about the running model: predictions served, drift found, pipeline specs changed."""

from __future__ import annotations

from typing import Literal

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
