"""What a service's broker is wired to: the topics it subscribes to and publishes to.

Shared by ``service_wiring_runs`` (which runs each service in memory) and
``test_service_access``. Publications are recorded at ``broker.publish``, where every
FastStream publish of a service passes (``publish_event``, serving's prediction log and
the dead-letter queue alike); ingest's own aiokafka producer is recorded by
:class:`RecordingProducer`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker

from continuum.contracts import Event, encode_event
from continuum.contracts.topics import DLQ_SUFFIX
from continuum.kafka import keyring_of

ROOT = Path(__file__).parents[1]
SERVICES = ("ingest", "trainer", "registry", "serving", "monitor")


def import_service_testkits() -> None:
    """Put each service's tests folder on ``sys.path`` (``<service>_testkit`` lives there)."""
    for name in SERVICES:
        folder = str(ROOT / "services" / name / "tests")
        if folder not in sys.path:
            sys.path.insert(0, folder)


@dataclass
class Wiring:
    """What one service was seen to do in an in-memory run.

    ``probed``: the topics a malformed message was sent to; ``sources``: the source
    topics of the run's pipelines (what ingest's source consumer reads).
    """

    subscribes: set[str] = field(default_factory=set)
    published: list[str] = field(default_factory=list)
    probed: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)

    @property
    def publishes(self) -> set[str]:
        """The topics it published to, its dead letters aside."""
        return {t for t in self.published if not t.endswith(DLQ_SUFFIX)}

    @property
    def dead_letters(self) -> set[str]:
        """The dead-letter topics it published to."""
        return {t for t in self.published if t.endswith(DLQ_SUFFIX)}


def subscribed_topics(broker: KafkaBroker) -> set[str]:
    """Every topic a subscriber of ``broker`` reads (call before tests add observers)."""
    return {name for sub in broker.subscribers for name in sub.topic_names}


class Recorder:
    """Records the topic of everything the service publishes through ``broker``.

    The test's own messages go through :meth:`send` and :meth:`probe`, which use the
    unrecorded ``publish``: they are not the service's.
    """

    def __init__(self, broker: KafkaBroker, wiring: Wiring) -> None:
        self.broker, self.wiring = broker, wiring
        self._publish: Callable[..., Awaitable[Any]] = broker.publish

        async def publish(message: Any = None, topic: str = "", *args: Any, **kwargs: Any) -> Any:
            wiring.published.append(topic)
            return await self._publish(message, topic, *args, **kwargs)

        broker.publish = publish  # type: ignore[method-assign]

    async def send(self, event: Event) -> None:
        """Publish ``event`` signed, as another service would."""
        record = encode_event(event, source="wiring-test", keyring=keyring_of(self.broker))
        await self._publish(
            record.value, topic=record.topic, key=record.key, headers=record.headers
        )

    async def probe(self, topics: set[str]) -> None:
        """Publish a message no handler can decode on each of ``topics``: each subscriber
        must dead-letter it."""
        for topic in sorted(topics):
            await self._publish(b"{not json", topic=topic, key=b"probe")
        self.wiring.probed |= topics


class RecordingProducer:
    """Stands for ingest's started aiokafka producer: records each send's topic, acks it."""

    def __init__(self, sink: list[str]) -> None:
        self.sink = sink

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[None]:
        self.sink.append(topic)
        acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked.set_result(None)
        return acked

    async def stop(self) -> None:
        """Nothing to flush."""
