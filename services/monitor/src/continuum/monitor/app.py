"""``create_app(settings)``: the monitor as a broker-only app with ``/health`` and ``/metrics``."""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker

from continuum.monitor.bootstrap import MonitorParts, build
from continuum.monitor.drift import import_evidently
from continuum.monitor.settings import MonitorSettings
from continuum.registry_client import RegistryClient
from continuum.runtime.health import observability_routes
from continuum.storage import ObjectStore


def create_app(
    settings: MonitorSettings | None = None,
    *,
    registry: RegistryClient | None = None,
    store: ObjectStore | None = None,
    broker: KafkaBroker | None = None,
) -> AsgiFastStream:
    """Build the app; nothing connects until the ASGI lifespan starts."""
    parts = build(settings or MonitorSettings(), registry=registry, store=store, broker=broker)
    return app_for(parts)


def app_for(parts: MonitorParts) -> AsgiFastStream:
    """Serve wired parts: the registry bootstrap runs beside the broker."""
    background: set[asyncio.Task[Any]] = set()

    async def start_monitor() -> None:
        # Handlers wait for the registry bootstrap; it runs beside the broker so /health
        # can say "starting" while the registry is still away. Evidently is imported in
        # a thread meanwhile, so the first full window does not pay seconds for it.
        for job in (parts.monitor.bootstrap(), asyncio.to_thread(import_evidently)):
            task = asyncio.create_task(job)
            background.add(task)
            task.add_done_callback(background.discard)

    async def stop_monitor() -> None:
        for task in list(background):
            task.cancel()
        await parts.registry.aclose()

    return AsgiFastStream(
        parts.broker,
        asgi_routes=observability_routes(parts.metrics, parts.monitor.health, parts.broker),
        on_startup=[start_monitor],
        after_shutdown=[stop_monitor],
    )
