"""Kafka wire format: JSON value, pipeline key, CloudEvents attributes in headers.

Follows the CloudEvents Kafka protocol binding (binary content mode): the attributes
travel as ``ce_*`` headers so routers and other tools can act on an event without
parsing it; the value is the event's JSON (which carries the same envelope).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from pydantic import Field, TypeAdapter

from continuum.contracts.envelope import Event
from continuum.contracts.event_signing import EventKeyring
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
from continuum.contracts.topics import topic_for

CLOUDEVENTS_SPEC_VERSION: Final = "1.0"
CONTENT_TYPE: Final = "application/json"

AnyEvent = Annotated[
    DataBatchReady
    | RecordRejected
    | Feedback
    | TrainingRequested
    | ModelTrained
    | ModelRegistered
    | ModelPromoted
    | PredictionLogged
    | PredictionsLogged
    | DriftDetected
    | QualityMeasured
    | PipelineChanged
    | RolloutChanged
    | RolloutEvaluated,
    Field(discriminator="event_type"),
]
"""Any Continuum event, told apart by ``event_type``."""

_ANY_EVENT: Final[TypeAdapter[AnyEvent]] = TypeAdapter(AnyEvent)


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """One event ready for a Kafka producer."""

    topic: str
    key: bytes
    value: bytes
    headers: dict[str, str]

    def header_pairs(self) -> list[tuple[str, bytes]]:
        """The headers as Kafka clients (aiokafka) take them: ``(name, UTF-8 bytes)``."""
        return [(name, value.encode()) for name, value in self.headers.items()]


def cloudevent_headers(event: Event, source: str) -> dict[str, str]:
    """The CloudEvents Kafka-binding headers for ``event`` sent by ``source``."""
    return {
        "ce_specversion": CLOUDEVENTS_SPEC_VERSION,
        "ce_id": str(event.event_id),
        "ce_type": event.event_type,
        "ce_source": source,
        "ce_time": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "ce_subject": event.pipeline,
        # Extension attribute names are lower-case alphanumerics only (CloudEvents 1.0).
        "ce_correlationid": str(event.correlation_id),
        "ce_schemaversion": str(event.schema_version),
        "content-type": CONTENT_TYPE,
    }


def encode_event(
    event: Event, source: str, topic: str | None = None, *, keyring: EventKeyring | None = None
) -> KafkaRecord:
    """Serialize ``event`` for Kafka, keyed by pipeline so each pipeline stays ordered.

    With a ``keyring`` the record is signed (``ce_signature``), as every event a Continuum
    service publishes must be; without one it is not, as users' ``Feedback`` may be.
    """
    value = event.model_dump_json().encode()
    headers = cloudevent_headers(event, source)
    return KafkaRecord(
        topic=topic or topic_for(event),
        key=event.pipeline.encode(),
        value=value,
        headers=keyring.sign(value, headers) if keyring else headers,
    )


def decode_event(value: bytes | str) -> AnyEvent:
    """Parse any Continuum event from its JSON; raises ``pydantic.ValidationError``."""
    return _ANY_EVENT.validate_json(value)
