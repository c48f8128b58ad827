"""Signed events against a real Kafka broker: forged ones dead-lettered with the reason.

Messages go through a plain aiokafka producer (bytes headers, as any client writing to
Kafka would send them) to a broker from ``build_broker``: an unsigned event and one
signed with another deployment's key each end in ``<topic>.dlq`` with the reason and
their source coordinates, and the signed event behind them is still processed (the
partition is not blocked). Forged ``models.trained`` carry inflated metrics and forged
``models.promoted`` a version that does not exist, as in the attack this guards against.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import (
    DataVersion,
    EventKeyring,
    ModelArtifacts,
    ModelPromoted,
    ModelTrained,
    StoredObject,
    encode_event,
)
from continuum.kafka import KafkaSettings, build_broker, keyring_of

pytestmark = pytest.mark.integration

ATTACKER = EventKeyring.of(["an-attackers-own-key-1234567890"])
STORED = StoredObject(uri="file:///tmp/x", sha256="0" * 64, size_bytes=1)
ARTIFACTS = ModelArtifacts(model=STORED, reference_sample=STORED, model_card=STORED)


def trained(run_id: str) -> ModelTrained:
    return ModelTrained(
        pipeline="flights",
        run_id=run_id,
        trigger="manual",
        status="succeeded",
        spec_version=1,
        data_version=DataVersion.of(["b-1"]),
        artifacts=ARTIFACTS,
        metric="roc_auc",
        metrics={"roc_auc": 0.999},
    )


def promoted(version: int) -> ModelPromoted:
    return ModelPromoted(pipeline="flights", version=version, artifacts=ARTIFACTS, reason="gate")


async def create_topics(bootstrap: str, *names: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=1, replication_factor=1) for name in names]
        )
    finally:
        await admin.close()


async def send(bootstrap: str, items: list[tuple[Any, str, EventKeyring | None]]) -> None:
    """Each (event, topic, keyring) as a raw Kafka record, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event, topic, keyring in items:
            record = encode_event(event, "it-sender", topic=topic, keyring=keyring)
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=record.header_pairs()
            )
    finally:
        await producer.stop()


async def dead_letters(bootstrap: str, topic: str, count: int) -> list[dict[str, str]]:
    """The headers of the first ``count`` dead letters of ``topic``."""
    consumer = AIOKafkaConsumer(
        f"{topic}.dlq", bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        records = [await asyncio.wait_for(consumer.getone(), timeout=30) for _ in range(count)]
    finally:
        await consumer.stop()
    return [{name: value.decode() for name, value in r.headers} for r in records]


async def wait_for(predicate: Any, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {limit}s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_forged_trained_and_promoted_events_are_dead_lettered_the_signed_ones_handled(
    kafka: Any,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    trained_topic, promoted_topic = f"it.trained.{suffix}", f"it.promoted.{suffix}"
    bootstrap = kafka.bootstrap_servers
    await create_topics(bootstrap, trained_topic, promoted_topic)
    broker: KafkaBroker = build_broker(
        KafkaSettings(bootstrap_servers=bootstrap), service="it", registry=CollectorRegistry()
    )
    runs: list[str] = []
    versions: list[int] = []

    @broker.subscriber(trained_topic, group_id="signed-check", auto_offset_reset="earliest")
    async def on_trained(event: ModelTrained) -> None:
        runs.append(event.run_id)

    @broker.subscriber(promoted_topic, group_id="signed-check", auto_offset_reset="earliest")
    async def on_promoted(event: ModelPromoted) -> None:
        versions.append(event.version)

    ours = keyring_of(broker)
    forged_runs = [trained("forged-unsigned"), trained("forged-wrong-key")]
    forged_promotions = [promoted(99), promoted(98)]
    async with broker:
        await broker.start()
        await send(
            bootstrap,
            [
                (forged_runs[0], trained_topic, None),
                (forged_runs[1], trained_topic, ATTACKER),
                (trained("genuine"), trained_topic, ours),
                (forged_promotions[0], promoted_topic, None),
                (forged_promotions[1], promoted_topic, ATTACKER),
                (promoted(2), promoted_topic, ours),
            ],
        )
        await wait_for(lambda: runs and versions, 60, "the signed events behind the forged ones")

    assert runs == ["genuine"]
    assert versions == [2]
    for topic, forged in ((trained_topic, forged_runs), (promoted_topic, forged_promotions)):
        unsigned, wrong_key = await dead_letters(bootstrap, topic, 2)
        assert unsigned["dlq_reason"].startswith("UnverifiedEventError: unsigned event")
        assert wrong_key["dlq_reason"].startswith("UnverifiedEventError: bad signature")
        assert [unsigned["ce_id"], wrong_key["ce_id"]] == [str(e.event_id) for e in forged]
        assert (unsigned["dlq_source_topic"], unsigned["dlq_source_offset"]) == (topic, "0")
        assert (wrong_key["dlq_source_topic"], wrong_key["dlq_source_offset"]) == (topic, "1")
