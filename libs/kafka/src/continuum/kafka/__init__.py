"""Kafka wiring shared by every Continuum service: broker factory, dead letters, lag,
connectivity, security, event signatures."""

from continuum.kafka.broker import build_broker, dead_letters_of, publish_event, publish_events
from continuum.kafka.connectivity import BrokerConnectivityCollector, is_connected
from continuum.kafka.consumer_lag import ConsumerLagCollector, watch_consumer_lag
from continuum.kafka.dead_letter import DeadLetterQueue, dlq_headers
from continuum.kafka.settings import KafkaSettings
from continuum.kafka.signing import EventKeyError, keyring_from, keyring_of, verify_record

__all__ = [
    "BrokerConnectivityCollector",
    "ConsumerLagCollector",
    "DeadLetterQueue",
    "EventKeyError",
    "KafkaSettings",
    "build_broker",
    "dead_letters_of",
    "dlq_headers",
    "is_connected",
    "keyring_from",
    "keyring_of",
    "publish_event",
    "publish_events",
    "verify_record",
    "watch_consumer_lag",
]
