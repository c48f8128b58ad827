"""Event signatures on the broker, in memory: the key from settings, refusals dead-lettered.

The same checks against a real broker are in tests/integration/test_signed_events.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import (
    EventKeyring,
    Feedback,
    TrainingRequested,
    UnverifiedEventError,
    encode_event,
)
from continuum.contracts.topics import FEEDBACK, TRAINING_REQUESTS, dlq_topic
from continuum.kafka import (
    EventKeyError,
    KafkaSettings,
    build_broker,
    dead_letters_of,
    keyring_from,
    keyring_of,
    publish_event,
    verify_record,
)

KEY = "unit-test-event-key-0123456789"
WRONG = "not-this-deployments-key-4242424242"


def _settings(**fields: Any) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers="127.0.0.1:1", **fields)


def _broker(registry: CollectorRegistry | None = None) -> Any:
    return build_broker(
        _settings(event_key=KEY), service="unit", registry=registry or CollectorRegistry()
    )


async def _send(broker: Any, event: Any, keyring: EventKeyring | None, topic: str) -> None:
    record = encode_event(event, source="forger", topic=topic, keyring=keyring)
    await broker.publish(record.value, topic=topic, key=record.key, headers=record.headers)


def test_a_service_without_an_event_key_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EVENT_KEY", "EVENT_KEY_FILE", "EVENT_KEYS_PREVIOUS"):
        monkeypatch.delenv(f"CONTINUUM_KAFKA_{name}", raising=False)
    with pytest.raises(EventKeyError, match=r"CONTINUUM_KAFKA_EVENT_KEY .*is required"):
        build_broker(_settings(), service="unit", registry=CollectorRegistry())
    with pytest.raises(EventKeyError, match="at least 16 bytes"):
        keyring_from(_settings(event_key="short"))


def test_the_key_comes_from_the_environment_or_a_file_with_older_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTINUUM_KAFKA_EVENT_KEY", KEY)
    monkeypatch.setenv("CONTINUUM_KAFKA_EVENT_KEYS_PREVIOUS", f"{WRONG}, older-key-0000000000000")
    keyring = keyring_from(KafkaSettings())
    assert keyring.signing == KEY.encode()
    assert keyring.previous == (WRONG.encode(), b"older-key-0000000000000")
    assert KEY not in repr(KafkaSettings())

    monkeypatch.delenv("CONTINUUM_KAFKA_EVENT_KEY")
    monkeypatch.delenv("CONTINUUM_KAFKA_EVENT_KEYS_PREVIOUS")
    key_file = tmp_path / "event-key"
    key_file.write_text(f"\n{WRONG}\n{KEY}\n")
    monkeypatch.setenv("CONTINUUM_KAFKA_EVENT_KEY_FILE", str(key_file))
    assert keyring_from(KafkaSettings()).accepted == (WRONG.encode(), KEY.encode())
    with pytest.raises(EventKeyError, match="only one of"):
        keyring_from(KafkaSettings(event_key=KEY))
    with pytest.raises(EventKeyError, match="cannot read the event key file"):
        keyring_from(_settings(event_key_file=tmp_path / "missing"))


async def test_unsigned_and_wrongly_signed_events_are_dead_lettered_with_the_reason() -> None:
    registry = CollectorRegistry()
    broker = _broker(registry)
    handled: list[TrainingRequested] = []
    dead: list[dict[str, str]] = []

    @broker.subscriber(TRAINING_REQUESTS, group_id="g")
    async def handle(event: TrainingRequested) -> None:
        handled.append(event)

    @broker.subscriber(dlq_topic(TRAINING_REQUESTS), group_id="g")
    async def dlq(msg: KafkaMessage) -> None:
        dead.append(dict(msg.headers))

    unsigned = TrainingRequested(pipeline="flights", reason="unsigned")
    forged = TrainingRequested(pipeline="flights", reason="wrong key")
    genuine = TrainingRequested(pipeline="flights", reason="genuine")
    async with TestKafkaBroker(broker) as br:
        await _send(br, unsigned, None, TRAINING_REQUESTS)
        await _send(br, forged, EventKeyring.of([WRONG]), TRAINING_REQUESTS)
        await publish_event(br, genuine, source="unit")

    assert handled == [genuine]
    assert [h["ce_id"] for h in dead] == [str(unsigned.event_id), str(forged.event_id)]
    assert dead[0]["dlq_reason"].startswith("UnverifiedEventError: unsigned event")
    assert dead[1]["dlq_reason"].startswith("UnverifiedEventError: bad signature")
    assert all(h["dlq_source_topic"] == TRAINING_REQUESTS for h in dead)
    refused = registry.get_sample_value(
        "continuum_dlq_messages_total",
        {"service": "unit", "topic": TRAINING_REQUESTS, "error_type": "UnverifiedEventError"},
    )
    assert refused == 2.0


async def test_feedback_from_users_apps_is_accepted_unsigned() -> None:
    broker = _broker()
    labels: list[Feedback] = []

    @broker.subscriber(FEEDBACK, group_id="g")
    async def handle(event: Feedback) -> None:
        labels.append(event)

    feedback = Feedback(pipeline="flights", entity_id="f-1", label=True)
    async with TestKafkaBroker(broker) as br:
        await _send(br, feedback, None, FEEDBACK)
    assert labels == [feedback]


async def test_a_batch_subscriber_verifies_each_record_and_refuses_only_the_forged_one() -> None:
    broker = _broker()
    handled: list[str] = []
    dead: list[str] = []
    keyring = keyring_of(broker)
    dead_letters = dead_letters_of(broker)

    @broker.subscriber(TRAINING_REQUESTS, group_id="g", batch=True)
    async def handle(message: KafkaMessage) -> None:
        raw = message.raw_message
        for record in raw if isinstance(raw, (tuple, list)) else (raw,):
            try:
                verify_record(keyring, record)
            except UnverifiedEventError as error:
                await dead_letters.send([record], error)
                continue
            handled.append(record.value.decode())

    @broker.subscriber(dlq_topic(TRAINING_REQUESTS), group_id="g")
    async def dlq(msg: KafkaMessage) -> None:
        dead.append(msg.headers["dlq_reason"])

    async with TestKafkaBroker(broker) as br:
        await _send(br, TrainingRequested(pipeline="p", reason="forged"), None, TRAINING_REQUESTS)
        await publish_event(br, TrainingRequested(pipeline="p", reason="ok"), source="unit")

    assert len(handled) == 1 and '"reason":"ok"' in handled[0]
    assert len(dead) == 1 and "unsigned event" in dead[0]
