"""Asking a running broker for cluster metadata with a real Kafka client (aiokafka).

An open port proves little (the controller port opens long before the broker serves
clients), so readiness means: a client bootstraps and the metadata lists our broker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient

T = TypeVar("T")


@dataclass(frozen=True)
class BrokerInfo:
    """One broker as listed in cluster metadata."""

    node_id: int
    host: str
    port: int


async def fetch_brokers(
    bootstrap_servers: str, wait_seconds: float = 5.0, client_options: dict[str, Any] | None = None
) -> list[BrokerInfo]:
    """Return the brokers in the cluster metadata; raise on any client error or timeout.

    ``client_options`` are extra aiokafka options (SASL credentials of a secured broker).
    """
    timeout_ms = max(int(wait_seconds * 1000), 1000)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        request_timeout_ms=timeout_ms,
        client_id="continuum-localkafka-probe",
        **(client_options or {}),
    )
    try:
        async with asyncio.timeout(wait_seconds):
            await admin.start()
            cluster: dict[str, Any] = await admin.describe_cluster()
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    return [
        BrokerInfo(int(b["node_id"]), str(b["host"]), int(b["port"]))
        for b in cluster.get("brokers", [])
    ]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even if an event loop is running here.

    Inside a running loop (an async test calling the sync API) ``asyncio.run`` is not
    allowed, so the coroutine gets its own loop in a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def probe_brokers(
    bootstrap_servers: str, timeout: float = 5.0, client_options: dict[str, Any] | None = None
) -> list[BrokerInfo]:
    """Sync :func:`fetch_brokers` that returns ``[]`` instead of raising (for polling)."""
    try:
        return run_sync(fetch_brokers(bootstrap_servers, timeout, client_options))
    except Exception:  # any client failure just means "not reachable yet"
        return []
