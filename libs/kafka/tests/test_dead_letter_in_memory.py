"""The broker factory's DLQ and ack wiring, in memory (the real broker is in tests/integration)."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import TrainingRequested
from continuum.kafka import (
    KafkaSettings,
    build_broker,
    keyring_of,
    publish_event,
    publish_events,
)
from continuum.runtime import TransientError, is_transient

EVENT_KEY = "unit-test-event-key-0123456789"


def _broker(registry: CollectorRegistry, **overrides: Any) -> Any:
    settings = KafkaSettings(
        bootstrap_servers="127.0.0.1:1",
        transient_retry_backoff_seconds=0.001,
        event_key=EVENT_KEY,
        **overrides,
    )
    return build_broker(settings, service="unit", registry=registry)


async def _publish_job(broker: Any, body: dict[str, Any], topic: str = "jobs") -> None:
    """A plain JSON message, signed with the broker's key like every internal message."""
    value = json.dumps(body).encode()
    headers = {
        "ce_type": "unit.job",
        "ce_id": str(uuid4()),
        "ce_source": "unit",
        "ce_time": "2026-01-01T00:00:00Z",
        "content-type": "application/json",
    }
    await broker.publish(
        value, topic=topic, key=b"k", headers=keyring_of(broker).sign(value, headers)
    )


async def test_failed_message_goes_to_dlq_with_reason_and_coordinates() -> None:
    registry = CollectorRegistry()
    broker = _broker(registry)
    dead: list[tuple[bytes, dict[str, str]]] = []

    @broker.subscriber("jobs", group_id="g")
    async def handle(body: dict[str, Any]) -> None:
        if body["n"] == 2:
            raise ValueError("n=2 is not allowed")

    @broker.subscriber("jobs.dlq", group_id="g")
    async def dlq(msg: KafkaMessage) -> None:
        dead.append((msg.body, dict(msg.headers)))

    async with TestKafkaBroker(broker) as br:
        for n in range(4):
            await _publish_job(br, {"n": n})
        assert handle.mock.call_count == 4

    assert len(dead) == 1
    body, headers = dead[0]
    assert b'"n":2' in body.replace(b" ", b"")
    assert headers["dlq_reason"] == "ValueError: n=2 is not allowed"
    assert headers["dlq_source_topic"] == "jobs"
    assert headers["dlq_source_partition"].isdigit()
    assert headers["dlq_source_offset"].isdigit()
    assert headers["dlq_service"] == "unit"
    value = registry.get_sample_value(
        "continuum_dlq_messages_total",
        {"service": "unit", "topic": "jobs", "error_type": "ValueError"},
    )
    assert value == 1.0


async def test_transient_errors_are_not_dead_lettered_while_attempts_remain() -> None:
    registry = CollectorRegistry()
    broker = _broker(registry, transient_max_attempts=3)
    dead: list[bytes] = []

    @broker.subscriber("jobs", group_id="g")
    async def handle(body: dict[str, Any]) -> None:
        raise TransientError("store briefly down")

    @broker.subscriber("jobs.dlq", group_id="g")
    async def dlq(msg: KafkaMessage) -> None:
        dead.append(msg.body)

    async with TestKafkaBroker(broker) as br:
        # In memory there is no redelivery: the re-raised error surfaces to the publisher.
        with pytest.raises(TransientError):
            await _publish_job(br, {"n": 1})
        assert dead == []


async def test_publish_event_sends_cloudevents_headers_and_pipeline_key() -> None:
    broker = _broker(CollectorRegistry())
    seen: list[KafkaMessage] = []

    @broker.subscriber("continuum.training.requests", group_id="g")
    async def handle(body: dict[str, Any], msg: KafkaMessage) -> None:
        seen.append(msg)

    event = TrainingRequested(pipeline="flights", requested_by="test")
    async with TestKafkaBroker(broker):
        await publish_event(broker, event, source="unit")
        handle.mock.assert_called_once_with(event.model_dump(mode="json"))

    (msg,) = seen
    assert msg.raw_message.key == b"flights"
    assert msg.headers["ce_id"] == str(event.event_id)
    assert msg.headers["ce_type"] == "continuum.training.requested"
    assert msg.headers["content-type"] == "application/json"


def test_transient_is_found_through_the_cause_chain() -> None:
    try:
        try:
            raise ConnectionError("peer reset")
        except ConnectionError as inner:
            raise RuntimeError("could not write batch") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
    assert not is_transient(ValueError("bad"))


async def test_publish_events_works_against_the_in_memory_broker() -> None:
    broker = _broker(CollectorRegistry())
    seen: list[str] = []

    @broker.subscriber("continuum.training.requests", group_id="g")
    async def handle(body: dict[str, Any]) -> None:
        seen.append(body["reason"])

    events = [TrainingRequested(pipeline="p", reason=str(i)) for i in range(5)]
    async with TestKafkaBroker(broker):
        assert await publish_events(broker, events, source="unit") == 5
    assert seen == ["0", "1", "2", "3", "4"]
