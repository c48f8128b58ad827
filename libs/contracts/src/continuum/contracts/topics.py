"""Every Kafka topic name Continuum uses, and which event travels on which topic.

A pipeline's own source topic is named in its spec; every other topic is here.
"""

from __future__ import annotations

from typing import Final

from continuum.contracts.envelope import Event
from continuum.contracts.events_data import DataBatchReady, Feedback, RecordRejected
from continuum.contracts.events_models import (
    ModelPromoted,
    ModelRegistered,
    ModelTrained,
    TrainingRequested,
)
from continuum.contracts.events_monitoring import (
    DriftDetected,
    PipelineChanged,
    PredictionLogged,
    PredictionsLogged,
    QualityMeasured,
)
from continuum.contracts.events_rollouts import RolloutChanged, RolloutEvaluated

DATA_BATCHES: Final = "continuum.data.batches"
RECORDS_REJECTED: Final = "continuum.records.rejected"
TRAINING_REQUESTS: Final = "continuum.training.requests"
MODELS_TRAINED: Final = "continuum.models.trained"
MODELS_REGISTERED: Final = "continuum.models.registered"
MODELS_PROMOTED: Final = "continuum.models.promoted"
PIPELINES_CHANGED: Final = "continuum.pipelines.changed"
PREDICTIONS: Final = "continuum.predictions"
FEEDBACK: Final = "continuum.feedback"
DRIFT_DETECTED: Final = "continuum.drift.detected"
QUALITY_MEASURED: Final = "continuum.quality.measured"
ROLLOUTS: Final = "continuum.rollouts"

DLQ_SUFFIX: Final = ".dlq"

TOPIC_BY_EVENT: Final[dict[type[Event], str]] = {
    DataBatchReady: DATA_BATCHES,
    RecordRejected: RECORDS_REJECTED,
    TrainingRequested: TRAINING_REQUESTS,
    ModelTrained: MODELS_TRAINED,
    ModelRegistered: MODELS_REGISTERED,
    ModelPromoted: MODELS_PROMOTED,
    PipelineChanged: PIPELINES_CHANGED,
    PredictionLogged: PREDICTIONS,
    PredictionsLogged: PREDICTIONS,
    Feedback: FEEDBACK,
    DriftDetected: DRIFT_DETECTED,
    QualityMeasured: QUALITY_MEASURED,
    RolloutChanged: ROLLOUTS,
    RolloutEvaluated: ROLLOUTS,
}

ALL_TOPICS: Final[tuple[str, ...]] = tuple(dict.fromkeys(TOPIC_BY_EVENT.values()))


def dlq_topic(topic: str) -> str:
    """The dead-letter topic for messages from ``topic`` that could not be processed."""
    return topic + DLQ_SUFFIX


def topic_for(event: Event) -> str:
    """The topic an event is published on."""
    try:
        return TOPIC_BY_EVENT[type(event)]
    except KeyError:
        raise TypeError(f"{type(event).__name__} has no topic in continuum.contracts") from None
