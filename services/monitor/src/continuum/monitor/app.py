"""``create_app``: the monitor as a broker-only ASGI app with ``/health`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream.asgi import AsgiFastStream

from continuum.monitor.drift import import_evidently
from continuum.monitor.registry_view import RegistryReader
from continuum.monitor.settings import MonitorSettings
from continuum.monitor.wiring import MonitorParts, wire
from continuum.registry_client import RegistryClient
from continuum.runtime.health import observability_routes
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)


def create_app(
    settings: MonitorSettings,
    *,
    registry_reader: RegistryReader | None = None,
    store: ObjectStore | None = None,
) -> AsgiFastStream:
    """The monitor app; the registry client and store default to the settings' URLs."""
    client: RegistryClient | None = None
    if registry_reader is None:
        token = settings.registry_bearer
        client = RegistryClient(settings.registry_url, token=token)
        registry_reader = client
    parts = wire(settings, registry_reader=registry_reader, store=store)
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
        if client is not None:
            await client.aclose()

    app = AsgiFastStream(
        parts.broker,
        asgi_routes=observability_routes(parts.registry, parts.monitor.health, parts.broker),
        on_startup=[start_monitor],
        after_shutdown=[stop_monitor],
    )
    app.state_parts = parts  # type: ignore[attr-defined]
    return app


def parts_of(app: AsgiFastStream) -> MonitorParts:
    """The parts ``create_app`` wired (for tests and tools)."""
    parts: MonitorParts = app.state_parts  # type: ignore[attr-defined]
    return parts
