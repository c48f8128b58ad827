"""Continuum's event contracts: the envelope, every event, topic names and the wire format.

Everything two services agree on lives here; services never import each other.
"""

from continuum.contracts.envelope import (
    Contract,
    Event,
    PipelineName,
    Sha256,
    UtcDatetime,
    is_valid_pipeline_name,
    utc_now,
)
from continuum.contracts.events_data import (
    DataBatchReady,
    Feedback,
    OffsetRange,
    RecordRejected,
    RejectionReason,
    SourceCoordinates,
    StoredObject,
    batch_id_for,
)
from continuum.contracts.events_models import (
    DataVersion,
    GateDecision,
    ModelArtifacts,
    ModelPromoted,
    ModelRegistered,
    ModelTrained,
    TrainingRequested,
    Trigger,
)
from continuum.contracts.events_monitoring import (
    ColumnDrift,
    DriftDetected,
    PipelineChanged,
    PredictionLogged,
)
from continuum.contracts.kafka_codec import (
    AnyEvent,
    KafkaRecord,
    cloudevent_headers,
    decode_event,
    encode_event,
)
from continuum.contracts.pipeline_spec import (
    ESTIMATORS,
    HIGHER_IS_BETTER,
    METRICS_BY_TASK,
    CategoricalFeature,
    NumericFeature,
    PipelineSpec,
    Task,
    parse_spec_yaml,
)

__all__ = [
    "ESTIMATORS",
    "HIGHER_IS_BETTER",
    "METRICS_BY_TASK",
    "AnyEvent",
    "CategoricalFeature",
    "ColumnDrift",
    "Contract",
    "DataBatchReady",
    "DataVersion",
    "DriftDetected",
    "Event",
    "Feedback",
    "GateDecision",
    "KafkaRecord",
    "ModelArtifacts",
    "ModelPromoted",
    "ModelRegistered",
    "ModelTrained",
    "NumericFeature",
    "OffsetRange",
    "PipelineChanged",
    "PipelineName",
    "PipelineSpec",
    "PredictionLogged",
    "RecordRejected",
    "RejectionReason",
    "Sha256",
    "SourceCoordinates",
    "StoredObject",
    "Task",
    "TrainingRequested",
    "Trigger",
    "UtcDatetime",
    "batch_id_for",
    "cloudevent_headers",
    "decode_event",
    "encode_event",
    "is_valid_pipeline_name",
    "parse_spec_yaml",
    "utc_now",
]
