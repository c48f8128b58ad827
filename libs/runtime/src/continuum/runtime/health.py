"""``/health`` and ``/metrics``: the one way every service answers them.

A service supplies a :data:`HealthCheck` (what it knows about itself); this module turns
it into the HTTP answer: 200 with the check's JSON when its ``status`` is ``ok``, else
503. Broker-only services mount :func:`observability_routes` beside their broker; the
FastAPI services add :class:`HealthEndpoint` as a route.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, make_asgi_app

HealthCheck = Callable[[], Awaitable[dict[str, Any]]]
"""Returns a JSON-able status; ``{"status": "ok", ...}`` means healthy."""

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class HealthEndpoint:
    """A plain ASGI app answering 200 with the check's JSON, or 503 when not ok.

    A class rather than a function so that Starlette routes treat it as an ASGI app.
    """

    def __init__(self, check: HealthCheck) -> None:
        self.check = check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the check and answer with its status."""
        status = await self.check()
        body = json.dumps(status, default=str).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200 if status.get("status") == "ok" else 503,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Pingable(Protocol):
    """A broker that can tell whether it is connected (FastStream's brokers can)."""

    async def ping(self, timeout: float | None) -> bool: ...  # noqa: ASYNC109 (FastStream API)


BROKER_PING_SECONDS = 2.0


async def broker_connected(broker: Pingable) -> bool:
    """Whether the broker answers a ping in time (an error counts as not connected)."""
    try:
        return bool(await broker.ping(timeout=BROKER_PING_SECONDS))
    except Exception:
        return False


def with_broker_check(check: HealthCheck, broker: Pingable) -> HealthCheck:
    """``check`` plus the broker's connection: not ok while Kafka is unreachable."""

    async def combined() -> dict[str, Any]:
        status = dict(await check())
        connected = await broker_connected(broker)
        status["kafka"] = "ok" if connected else "not connected"
        if not connected and status.get("status") == "ok":
            status["status"] = "degraded"
        return status

    return combined


def observability_routes(
    registry: CollectorRegistry, check: HealthCheck, broker: Pingable | None = None
) -> list[tuple[str, ASGIApp]]:
    """The routes every broker-only service serves beside its broker.

    With ``broker``, ``/health`` also answers 503 while the broker is not connected.
    """
    if broker is not None:
        check = with_broker_check(check, broker)
    return [("/metrics", make_asgi_app(registry)), ("/health", HealthEndpoint(check))]
