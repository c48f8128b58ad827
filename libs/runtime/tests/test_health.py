from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Counter

from continuum.runtime.health import HealthEndpoint, observability_routes, with_broker_check


class Broker:
    def __init__(self, connected: bool) -> None:
        self.connected = connected

    async def ping(self, timeout: float | None) -> bool:  # noqa: ASYNC109
        return self.connected


async def test_health_is_degraded_while_the_broker_is_not_connected() -> None:
    async def check() -> dict[str, object]:
        return {"status": "ok", "running": {}}

    broker = Broker(connected=False)
    combined = with_broker_check(check, broker)
    assert await combined() == {"status": "degraded", "running": {}, "kafka": "not connected"}
    broker.connected = True
    assert await combined() == {"status": "ok", "running": {}, "kafka": "ok"}


async def _get(app: Any, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_the_endpoint_answers_200_only_when_the_status_is_ok() -> None:
    status: dict[str, Any] = {"status": "ok", "at": 1}

    async def check() -> dict[str, Any]:
        return status

    endpoint = HealthEndpoint(check)
    ok = await _get(endpoint, "/health")
    assert (ok.status_code, ok.json()) == (200, {"status": "ok", "at": 1})
    status["status"] = "starting"
    starting = await _get(endpoint, "/health")
    assert (starting.status_code, starting.json()["status"]) == (503, "starting")


async def test_observability_routes_serve_metrics_and_the_health_with_the_broker() -> None:
    registry = CollectorRegistry()
    Counter("continuum_test_things", "Things.", registry=registry).inc()

    async def check() -> dict[str, Any]:
        return {"status": "ok"}

    routes = dict(observability_routes(registry, check, Broker(connected=False)))
    assert set(routes) == {"/metrics", "/health"}
    assert "continuum_test_things_total 1.0" in (await _get(routes["/metrics"], "/")).text
    health = await _get(routes["/health"], "/")
    assert (health.status_code, health.json()["kafka"]) == (503, "not connected")
