"""Kafka wiring shared by every Continuum service: settings, broker factory, DLQ, metrics."""

from continuum.kafka.broker import build_broker, dead_letters_of, publish_event, publish_events
from continuum.kafka.consumer_lag import ConsumerLagCollector, watch_consumer_lag
from continuum.kafka.dead_letter import DeadLetterQueue, dlq_headers
from continuum.kafka.errors import TRANSIENT_ERRORS, TransientError, is_transient, retrying
from continuum.kafka.settings import KafkaSettings, RegistryCallerSettings, ServiceSettings

__all__ = [
    "TRANSIENT_ERRORS",
    "ConsumerLagCollector",
    "DeadLetterQueue",
    "KafkaSettings",
    "RegistryCallerSettings",
    "ServiceSettings",
    "TransientError",
    "build_broker",
    "dead_letters_of",
    "dlq_headers",
    "is_transient",
    "publish_event",
    "publish_events",
    "retrying",
    "watch_consumer_lag",
]
