"""Dead-letter middleware: a message that cannot be processed goes to ``<topic>.dlq``.

Sits inside FastStream's acknowledgement middleware. A non-transient failure (bad
payload, a bug, a refused contract) is published to the DLQ with the reason and the
source coordinates in headers, then swallowed so the offset is committed and the
partition moves on. A transient failure is re-raised after a backoff, so the
subscriber's ``NACK_ON_ERROR`` policy seeks back and the message is redelivered; after
``transient_max_attempts`` it is dead-lettered too, so nothing blocks a partition forever.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from faststream import BaseMiddleware
from prometheus_client import CollectorRegistry, Counter

from continuum.contracts.topics import DLQ_SUFFIX, dlq_topic
from continuum.runtime.retry import Backoff, is_transient

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from faststream._internal.context.repository import ContextRepo
    from faststream.kafka import KafkaBroker

logger = logging.getLogger(__name__)

MAX_REASON_CHARS = 2000

Coordinates = tuple[str, int, int]


def dlq_headers(
    record: ConsumerRecord[Any, Any], error: BaseException, service: str
) -> dict[str, str]:
    """The original headers plus why and where the message failed."""
    original = {name: value.decode(errors="replace") for name, value in record.headers or ()}
    reason = f"{type(error).__name__}: {error}"[:MAX_REASON_CHARS]
    return original | {
        "dlq_reason": reason,
        "dlq_error_type": type(error).__qualname__,
        "dlq_source_topic": record.topic,
        "dlq_source_partition": str(record.partition),
        "dlq_source_offset": str(record.offset),
        "dlq_service": service,
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    }


class DeadLetterQueue:
    """Middleware factory, given to ``KafkaBroker(middlewares=[...])``.

    The broker is attached after it is built (the middleware publishes through it).
    """

    def __init__(
        self,
        *,
        service: str,
        registry: CollectorRegistry,
        backoff_seconds: float,
        max_transient_attempts: int,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.service = service
        self.broker: KafkaBroker | None = None
        self.backoff = Backoff(first_seconds=backoff_seconds)
        self.max_transient_attempts = max_transient_attempts
        self.sleep = sleep
        self.transient_attempts: dict[Coordinates, int] = {}
        self.dead_lettered = Counter(
            "continuum_dlq_messages_total",
            "Messages sent to a dead-letter topic, by source topic and error type.",
            ["service", "topic", "error_type"],
            registry=registry,
        )

    def attach(self, broker: KafkaBroker) -> None:
        """Publish dead letters through ``broker``."""
        self.broker = broker

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _DeadLetterScope:
        return _DeadLetterScope(msg, context=context, queue=self)

    async def send(self, records: Iterable[ConsumerRecord[Any, Any]], error: BaseException) -> None:
        """Publish each record to its DLQ topic with the reason (raises if Kafka refuses)."""
        if self.broker is None:
            raise RuntimeError("DeadLetterQueue.attach(broker) was not called")
        for record in records:
            if record.topic.endswith(DLQ_SUFFIX):
                # A dead letter that fails again stays where it is rather than cascading.
                logger.error("dropping failed message already in a DLQ: %s", record.topic)
                continue
            await self.broker.publish(
                record.value,
                topic=dlq_topic(record.topic),
                key=record.key,
                headers=dlq_headers(record, error, self.service),
            )
            self.dead_lettered.labels(self.service, record.topic, type(error).__name__).inc()
            logger.warning(
                "dead-lettered %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                error,
                extra={"traceback": "".join(traceback.format_exception(error))},
            )

    async def should_retry(self, records: list[ConsumerRecord[Any, Any]]) -> bool:
        """Count one more transient failure; back off and say whether to redeliver."""
        key = _coordinates(records[0])
        attempts = self.transient_attempts.get(key, 0) + 1
        if attempts >= self.max_transient_attempts:
            self.transient_attempts.pop(key, None)
            return False
        self.transient_attempts[key] = attempts
        await self.sleep(self.backoff.delay(attempts))
        return True

    def forget(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        """The message is done with; stop counting its transient failures."""
        if self.transient_attempts and records:
            self.transient_attempts.pop(_coordinates(records[0]), None)


def _coordinates(record: ConsumerRecord[Any, Any]) -> Coordinates:
    return (record.topic, record.partition, record.offset)


def _records(msg: Any) -> list[ConsumerRecord[Any, Any]]:
    # A batch subscriber hands the middleware a tuple of records, a plain one a record.
    return list(msg) if isinstance(msg, (tuple, list)) else [msg]


class _DeadLetterScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, queue: DeadLetterQueue) -> None:
        super().__init__(msg, context=context)
        self.queue = queue

    async def after_processed(
        self,
        exc_type: type[BaseException] | None = None,
        exc_val: BaseException | None = None,
        exc_tb: TracebackType | None = None,
    ) -> bool | None:
        records = _records(self.msg)
        if exc_val is None or not isinstance(exc_val, Exception):
            self.queue.forget(records)
            return False
        if is_transient(exc_val) and await self.queue.should_retry(records):
            return False  # re-raised: NACK_ON_ERROR seeks back and redelivers
        await self.queue.send(records, exc_val)
        return True  # swallowed: the acknowledgement middleware commits the offset
