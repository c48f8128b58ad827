"""``create_app(settings)``: the trainer's consumers plus ``/health`` and ``/metrics``."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker

from continuum.registry_client import RegistryClient
from continuum.runtime.health import observability_routes
from continuum.trainer.bootstrap import TrainerParts, build
from continuum.trainer.settings import TrainerSettings


def create_app(
    settings: TrainerSettings | None = None,
    *,
    registry: RegistryClient | None = None,
    broker: KafkaBroker | None = None,
) -> AsgiFastStream:
    """Build the app; nothing connects until the ASGI lifespan starts."""
    return app_for(build(settings or TrainerSettings(), registry=registry, broker=broker))


def app_for(parts: TrainerParts) -> AsgiFastStream:
    """Serve wired parts: the service opens its state and starts its runs on startup."""

    async def close_registry() -> None:
        await parts.registry.aclose()

    return AsgiFastStream(
        parts.broker,
        asgi_routes=observability_routes(parts.metrics, parts.service.health, parts.broker),
        on_startup=[parts.service.start],
        on_shutdown=[parts.service.stop],
        after_shutdown=[close_registry],
    )
