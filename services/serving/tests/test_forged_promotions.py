"""Forged promotions: refused by the broker's signature check, so serving swaps nothing.

A ``continuum.models.promoted`` that is unsigned or signed with another deployment's key
ends in the DLQ with the reason; a signed one (this deployment's key) still swaps.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaMessage
from serving_testkit import make_record, new_store, registry_with_champion, running

from continuum.contracts import EventKeyring, ModelPromoted, encode_event
from continuum.contracts.topics import MODELS_PROMOTED, dlq_topic
from continuum.kafka import publish_event
from continuum.serving.bootstrap import ServingParts

ATTACKER = EventKeyring.of(["an-attackers-own-key-1234567890"])


async def _forge(broker: Any, event: ModelPromoted, keyring: EventKeyring | None) -> None:
    record = encode_event(event, source="continuum-registry", keyring=keyring)
    await broker.publish(record.value, topic=record.topic, key=record.key, headers=record.headers)


async def test_unsigned_and_wrongly_signed_promotions_are_dead_lettered_not_served() -> None:
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    dead: list[dict[str, str]] = []

    def observe_dead_letters(parts: ServingParts) -> None:
        @parts.broker.subscriber(dlq_topic(MODELS_PROMOTED), group_id="test-observer")
        async def observe(message: KafkaMessage) -> None:
            dead.append(dict(message.headers))

    async with running(registry, store, setup=observe_dead_letters) as world:
        broker = world.parts.broker
        await _forge(broker, world.promotion(2), None)
        await _forge(broker, world.promotion(2), ATTACKER)
        assert (await world.predict([make_record()])).json()["model_version"] == 1
        assert world.metric("continuum_serving_model_version", pipeline="flights") == 1

        registry.champions["flights"] = 2  # the registry did promote it: a real promotion
        await publish_event(broker, world.promotion(2), source="continuum-registry")
        assert (await world.predict([make_record()])).json()["model_version"] == 2

    assert [h["dlq_reason"].split(":")[0] for h in dead] == ["UnverifiedEventError"] * 2
    assert "unsigned event" in dead[0]["dlq_reason"]
    assert "bad signature" in dead[1]["dlq_reason"]
    assert {h["dlq_service"] for h in dead} == {"serving"}
