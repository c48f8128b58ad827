"""The one way a Continuum service builds its FastStream Kafka broker.

Every broker gets: the security from settings, Prometheus metrics (with the broker's
connectivity, :mod:`continuum.kafka.connectivity`), the dead-letter middleware, the
event signature check (a message it cannot verify is dead-lettered with the reason;
what :func:`publish_event` sends is signed), and ``NACK_ON_ERROR`` so an
offset is committed only after its handler succeeded (or its message was dead-lettered);
a transient failure is redelivered.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Iterable

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from continuum.contracts import Event, encode_event
from continuum.kafka.connectivity import watch_connectivity
from continuum.kafka.dead_letter import DeadLetterQueue
from continuum.kafka.security import security_from
from continuum.kafka.settings import KafkaSettings
from continuum.kafka.signing import SignatureCheck, keyring_from, keyring_of, remember_keyring

_DEAD_LETTERS: weakref.WeakKeyDictionary[KafkaBroker, DeadLetterQueue] = weakref.WeakKeyDictionary()


def dead_letters_of(broker: KafkaBroker) -> DeadLetterQueue:
    """The DLQ of a broker from :func:`build_broker`, for batch handlers that dead-letter
    one bad record of a batch themselves instead of failing the whole batch."""
    return _DEAD_LETTERS[broker]


def build_broker(
    settings: KafkaSettings,
    *,
    service: str,
    registry: CollectorRegistry,
    logger: logging.Logger | None = None,
) -> KafkaBroker:
    """A broker for ``service`` with metrics in ``registry`` and a dead-letter queue.

    Raises :class:`~continuum.kafka.signing.EventKeyError` without the deployment's event key.
    """
    keyring = keyring_from(settings)
    dead_letters = DeadLetterQueue(
        service=service,
        registry=registry,
        backoff_seconds=settings.transient_retry_backoff_seconds,
        max_transient_attempts=settings.transient_max_attempts,
    )
    broker = KafkaBroker(
        settings.bootstrap_servers,
        client_id=settings.client_id or f"continuum-{service}",
        security=security_from(settings),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        # Durable and duplicate-free publishing: every in-sync replica acknowledges, and
        # the idempotent producer makes retries safe.
        acks="all",
        enable_idempotence=True,
        # Outermost first: the DLQ scope wraps the signature check (an unverified message
        # is dead-lettered with the reason) and Prometheus, so a dead-lettered message
        # still counts as an error in faststream's metrics.
        middlewares=[
            dead_letters,
            SignatureCheck(keyring),
            KafkaPrometheusMiddleware(registry=registry, app_name=service),
        ],
        logger=logger or logging.getLogger(f"continuum.{service}.kafka"),
    )
    dead_letters.attach(broker)
    _DEAD_LETTERS[broker] = dead_letters
    watch_connectivity(registry, service=service, broker=broker)
    remember_keyring(broker, keyring)
    return broker


async def publish_event(
    broker: KafkaBroker, event: Event, *, source: str, topic: str | None = None
) -> None:
    """Publish ``event`` keyed by pipeline with CloudEvents headers, signed with the broker's
    event key; waits for the ack."""
    record = encode_event(event, source=source, topic=topic, keyring=keyring_of(broker))
    await broker.publish(record.value, topic=record.topic, key=record.key, headers=record.headers)


async def publish_events(
    broker: KafkaBroker, events: Iterable[Event], *, source: str, topic: str | None = None
) -> int:
    """Publish many events pipelined (not one round trip each), signed like
    :func:`publish_event`; returns once all are acked."""
    keyring = keyring_of(broker)
    pending = []
    count = 0
    for event in events:
        record = encode_event(event, source=source, topic=topic, keyring=keyring)
        sent = await broker.publish(
            record.value,
            topic=record.topic,
            key=record.key,
            headers=record.headers,
            no_confirm=True,
        )
        count += 1
        # A real producer returns a delivery future; the in-memory test broker returns None.
        if inspect.isawaitable(sent):
            pending.append(sent)
    await asyncio.gather(*pending)
    return count
