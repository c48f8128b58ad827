"""Kafka wiring shared by every Continuum service: broker factory, dead letters, lag, security."""

from continuum.kafka.broker import build_broker, dead_letters_of, publish_event, publish_events
from continuum.kafka.consumer_lag import ConsumerLagCollector, watch_consumer_lag
from continuum.kafka.dead_letter import DeadLetterQueue, dlq_headers
from continuum.kafka.settings import KafkaSettings

__all__ = [
    "ConsumerLagCollector",
    "DeadLetterQueue",
    "KafkaSettings",
    "build_broker",
    "dead_letters_of",
    "dlq_headers",
    "publish_event",
    "publish_events",
    "watch_consumer_lag",
]
