"""The broker factory against a real Kafka broker: order, DLQ, and at-least-once."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import TrainingRequested
from continuum.kafka import KafkaSettings, build_broker, publish_events

pytestmark = pytest.mark.integration

APPS = Path(__file__).parent / "apps"


async def create_topic(bootstrap: str, name: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


def make_broker(bootstrap: str, service: str = "it") -> KafkaBroker:
    return build_broker(
        KafkaSettings(bootstrap_servers=bootstrap, transient_retry_backoff_seconds=0.05),
        service=service,
        registry=CollectorRegistry(),
    )


def numbered_events(count: int, keys: int) -> list[TrainingRequested]:
    # The pipeline is the message key; ``reason`` carries the sequence number per key.
    return [TrainingRequested(pipeline=f"p{i % keys}", reason=str(i // keys)) for i in range(count)]


async def wait_for(predicate: Any, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {limit}s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_ten_thousand_events_all_arrive_in_order_per_key(kafka: Any) -> None:
    topic = f"it.order.{uuid.uuid4().hex[:8]}"
    await create_topic(kafka.bootstrap_servers, topic)
    broker = make_broker(kafka.bootstrap_servers)
    seen: dict[str, list[int]] = {}

    @broker.subscriber(topic, group_id="order-check", auto_offset_reset="earliest")
    async def handle(event: TrainingRequested) -> None:
        seen.setdefault(event.pipeline, []).append(int(event.reason))

    events = numbered_events(10_000, keys=10)
    async with broker:
        await broker.start()
        assert await publish_events(broker, events, source="it", topic=topic) == 10_000
        await wait_for(lambda: sum(map(len, seen.values())) >= 10_000, 120, "10,000 events")

    assert sum(map(len, seen.values())) == 10_000
    assert sorted(seen) == [f"p{k}" for k in range(10)]
    for key, sequence in seen.items():
        assert sequence == list(range(1_000)), f"{key} arrived out of order or with gaps"


async def test_failing_event_goes_to_dlq_with_reason_and_partition_moves_on(kafka: Any) -> None:
    topic = f"it.dlq.{uuid.uuid4().hex[:8]}"
    await create_topic(kafka.bootstrap_servers, topic, partitions=1)
    broker = make_broker(kafka.bootstrap_servers)
    processed: list[int] = []

    @broker.subscriber(topic, group_id="dlq-check", auto_offset_reset="earliest")
    async def handle(event: TrainingRequested) -> None:
        if event.reason == "13":
            raise ValueError("13 is an unlucky number")
        processed.append(int(event.reason))

    events = [TrainingRequested(pipeline="p", reason=str(i)) for i in range(30)]
    async with broker:
        await broker.start()
        await publish_events(broker, events, source="it", topic=topic)
        await wait_for(lambda: len(processed) >= 29, 60, "the events after the failing one")

    assert processed == [i for i in range(30) if i != 13]

    dlq = AIOKafkaConsumer(
        f"{topic}.dlq",
        bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=1000,
    )
    await dlq.start()
    try:
        record = await asyncio.wait_for(dlq.getone(), timeout=30)
    finally:
        await dlq.stop()
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["dlq_reason"] == "ValueError: 13 is an unlucky number"
    assert headers["dlq_source_topic"] == topic
    assert headers["dlq_source_partition"] == "0"
    assert headers["dlq_source_offset"] == "13"
    assert headers["ce_id"] == str(events[13].event_id)
    assert record.key == b"p"
    assert TrainingRequested.model_validate_json(record.value) == events[13]


def ledger_totals(path: Path) -> tuple[int, int, int]:
    db = sqlite3.connect(path)
    try:
        applied = db.execute("SELECT COUNT(*) FROM applied").fetchone()[0]
        deliveries = db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
        total = db.execute("SELECT total FROM balance").fetchone()[0]
        return applied, deliveries, total
    except sqlite3.OperationalError:
        return 0, 0, 0
    finally:
        db.close()


def start_consumer(kafka: Any, topic: str, ledger: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            str(APPS / "ledger_consumer.py"),
            kafka.bootstrap_servers,
            topic,
            "ledger",
            str(ledger),
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


async def test_consumer_killed_mid_stream_loses_nothing_and_applies_each_event_once(
    kafka: Any, tmp_path: Path
) -> None:
    topic = f"it.ledger.{uuid.uuid4().hex[:8]}"
    await create_topic(kafka.bootstrap_servers, topic)
    events = [TrainingRequested(pipeline=f"p{i % 7}", reason=str(i + 1)) for i in range(3_000)]
    expected_total = sum(range(1, 3_001))
    broker = make_broker(kafka.bootstrap_servers)
    async with broker:
        await broker.start()
        await publish_events(broker, events, source="it", topic=topic)

    ledger, log = tmp_path / "ledger.db", tmp_path / "consumer.log"
    first = start_consumer(kafka, topic, ledger, log)
    try:
        await wait_for(
            lambda: ledger_totals(ledger)[0] >= 800, 120, "the first consumer to progress"
        )
    finally:
        first.kill()  # SIGKILL: no shutdown hooks, no final commit
        first.wait()
    applied_at_kill = ledger_totals(ledger)[0]
    assert applied_at_kill < 3_000, "the consumer finished before it could be killed"

    second = start_consumer(kafka, topic, ledger, log)
    try:
        await wait_for(lambda: ledger_totals(ledger)[0] >= 3_000, 120, "the restarted consumer")
        await asyncio.sleep(1)  # let any redelivery land before counting
    finally:
        second.terminate()
        second.wait(timeout=30)

    applied, deliveries, total = ledger_totals(ledger)
    assert applied == 3_000, log.read_text()[-2000:]
    assert total == expected_total  # a lost or doubly applied event would change the sum
    assert deliveries >= applied
