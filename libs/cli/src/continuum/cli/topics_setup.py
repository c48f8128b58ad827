"""Creates Continuum's topics up front (and a pipeline's source topic) with known partitions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from continuum.contracts.topics import ALL_TOPICS, dlq_topic


async def ensure_topics(
    bootstrap_servers: str, extra: Iterable[str] = (), partitions: int = 3
) -> list[str]:
    """Create every Continuum topic, its DLQ and ``extra`` if missing; returns those created."""
    wanted = [*ALL_TOPICS, *(dlq_topic(x) for x in ALL_TOPICS), *extra]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(wanted) if name not in existing]
        if missing:
            new = [NewTopic(name, partitions, replication_factor=1) for name in missing]
            # Another process may create them meanwhile: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
        return missing
    finally:
        await admin.close()
