"""Ingest's own event producer signs what it sends, like every broker from build_broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from continuum.contracts import EventKeyring, TrainingRequested, UnverifiedEventError
from continuum.ingest.kafka_io import KafkaEventPublisher
from continuum.kafka import EventKeyError, KafkaSettings


class RecordingProducer:
    """Stands in for ``AIOKafkaProducer.send``: keeps what it was given, acks at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, value: bytes, *, key: bytes, headers: Any) -> Any:
        self.sent.append((topic, value, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_published_events_carry_a_signature_the_deployment_key_verifies(
    event_key: str,
) -> None:
    publisher = KafkaEventPublisher(KafkaSettings(), source="continuum.ingest")
    producer = RecordingProducer()
    publisher.producer = producer
    await publisher.publish([TrainingRequested(pipeline="flights")])

    ((_topic, value, headers),) = producer.sent
    EventKeyring.of([event_key]).verify_kafka(value, headers)
    with pytest.raises(UnverifiedEventError, match="bad signature"):
        EventKeyring.of(["another-deployments-key-000000"]).verify_kafka(value, headers)


def test_ingest_does_not_start_without_an_event_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTINUUM_KAFKA_EVENT_KEY")
    with pytest.raises(EventKeyError, match="is required"):
        KafkaEventPublisher(KafkaSettings(), source="continuum.ingest")
