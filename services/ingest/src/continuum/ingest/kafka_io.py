"""aiokafka clients for ingest: the source consumer, the committer, the event producer.

Ingest runs its own aiokafka clients rather than a FastStream subscriber because it
commits offsets per partition only once a batch is durable. Its event producer is
idempotent with ``acks=all``, like the shared broker factory's: a batch event or a
rejection must not be lost once its offsets are committed. Events carry the CloudEvents
headers and are signed with the deployment's event key (``encode_event``), as every
consumer refuses an unsigned one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from faststream.kafka.security import parse_security

from continuum.contracts import Event, encode_event
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.lean_fetch import RAW_VALUES, install_lean_records
from continuum.kafka import KafkaSettings, keyring_from
from continuum.kafka.security import security_from


def client_options(settings: KafkaSettings, client_id: str) -> dict[str, Any]:
    """Connection and security options for an aiokafka client."""
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id or client_id,
        **parse_security(security_from(settings)),
    }


def make_source_consumer(
    settings: KafkaSettings, *, group_id: str, max_records: int, metadata_refresh_seconds: float
) -> Any:
    """The source-topic consumer: explicit commits only, from the earliest offset.

    Its polls yield aiokafka's decoded records as they are (offset and value, no
    ``ConsumerRecord`` per record: :mod:`continuum.ingest.lean_fetch`).
    """
    install_lean_records()
    return AIOKafkaConsumer(
        value_deserializer=RAW_VALUES,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        # Large fetches (aiokafka's default is 1 MiB per partition): the engine checks
        # what a poll brings as one run, so bigger runs cost less per record.
        max_partition_fetch_bytes=16 << 20,
        fetch_max_bytes=64 << 20,
        # A pipeline's topic may be created after ingest subscribed to it; aiokafka only
        # sees it at the next metadata refresh (5 minutes by default).
        metadata_max_age_ms=int(metadata_refresh_seconds * 1000),
        **client_options(settings, "continuum-ingest"),
    )


def kafka_tp(tp: TopicPartition) -> Any:
    """aiokafka's ``TopicPartition`` (its commit refuses other tuple types)."""
    return KafkaTopicPartition(tp.topic, tp.partition)


class ConsumerCommitter:
    """Commits explicit offsets through the consumer once it exists."""

    def __init__(self) -> None:
        self.consumer: Any | None = None

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Commit ``offsets`` (next offset to read, per partition)."""
        if self.consumer is None:
            raise RuntimeError("the consumer is not started")
        await self.consumer.commit({kafka_tp(tp): offset for tp, offset in offsets.items()})


class KafkaEventPublisher:
    """Publishes signed events with ``acks=all`` and waits for every acknowledgement."""

    def __init__(self, settings: KafkaSettings, *, source: str) -> None:
        self.settings = settings
        self.source = source
        # Read now, not at the first publish: a missing key stops ingest at start.
        self.keyring = keyring_from(settings)
        self.producer: Any | None = None

    async def start(self) -> None:
        """Connect (raises if Kafka is unreachable; the caller retries)."""
        producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,
            # Every publish waits for its acks at once, so lingering only adds latency
            # (a batch event per flush): what one publish sends goes out together anyway.
            linger_ms=0,
            **client_options(self.settings, "continuum-ingest"),
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self.producer = producer

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await producer.stop()

    async def publish(self, events: Sequence[Event]) -> None:
        """Send all ``events`` (batched by the producer) and wait until each is acked."""
        if self.producer is None:
            raise ConnectionError("the event producer is not started")
        futures = []
        for event in events:
            record = encode_event(event, source=self.source, keyring=self.keyring)
            futures.append(
                await self.producer.send(
                    record.topic, record.value, key=record.key, headers=record.header_pairs()
                )
            )
        await asyncio.gather(*futures)
