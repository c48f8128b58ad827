"""Wiring: ``create_app(settings)`` builds the broker, the service and the ASGI app."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import (
    DataBatchReady,
    DriftDetected,
    ModelPromoted,
    ModelRegistered,
    PipelineChanged,
    QualityMeasured,
    TrainingRequested,
    topics,
)
from continuum.kafka import build_broker, watch_consumer_lag
from continuum.registry_client import RegistryClient
from continuum.runtime.health import observability_routes
from continuum.trainer.jobs import TrainFn
from continuum.trainer.metrics import TrainerMetrics
from continuum.trainer.runner import Runner, make_executor
from continuum.trainer.service import TrainerService
from continuum.trainer.settings import TrainerSettings
from continuum.trainer.worker import train_run

GROUP_ID = "continuum-trainer"
logger = logging.getLogger("continuum.trainer")


@dataclass
class Trainer:
    """Everything ``create_app`` wires, kept together for tests."""

    app: AsgiFastStream
    broker: KafkaBroker
    service: TrainerService
    registry: CollectorRegistry


def build_trainer(
    settings: TrainerSettings,
    *,
    registry_client: RegistryClient | None = None,
    train_fn: TrainFn = train_run,
    executor_factory: Callable[[], Executor] | None = None,
) -> Trainer:
    """The trainer with its broker and app; tests swap the registry, worker and pool."""
    registry = CollectorRegistry()
    metrics = TrainerMetrics(registry)
    broker = build_broker(settings.kafka, service="trainer", registry=registry)
    watch_consumer_lag(registry, service="trainer", broker=broker)
    client = registry_client or RegistryClient(
        settings.registry_url, token=settings.registry_bearer
    )
    holder: list[TrainerService] = []
    runner = Runner(
        settings=settings,
        state=lambda: holder[0].state,
        registry=client,
        broker=broker,
        metrics=metrics,
        train_fn=train_fn,
        executor_factory=executor_factory or partial(make_executor, settings),
    )
    service = TrainerService(settings, client, metrics, runner)
    holder.append(service)

    subscribe = partial(broker.subscriber, group_id=GROUP_ID, auto_offset_reset="earliest")

    @subscribe(topics.DATA_BATCHES)
    async def on_batch(event: DataBatchReady) -> None:
        await service.on_batch(event)

    @subscribe(topics.DRIFT_DETECTED)
    async def on_drift(event: DriftDetected) -> None:
        await service.on_drift(event)

    @subscribe(topics.TRAINING_REQUESTS)
    async def on_request(event: TrainingRequested) -> None:
        await service.on_request(event)

    @subscribe(topics.QUALITY_MEASURED)
    async def on_quality(event: QualityMeasured) -> None:
        await service.on_quality(event)

    @subscribe(topics.MODELS_REGISTERED)
    async def on_registered(event: ModelRegistered) -> None:
        await service.on_registered(event)

    @subscribe(topics.MODELS_PROMOTED)
    async def on_promoted(event: ModelPromoted) -> None:
        await service.on_promoted(event)

    @subscribe(topics.PIPELINES_CHANGED)
    async def on_pipeline_changed(event: PipelineChanged) -> None:
        await service.on_pipeline_changed(event)

    async def close_client() -> None:
        if registry_client is None:
            await client.aclose()

    app = AsgiFastStream(
        broker,
        asgi_routes=observability_routes(registry, service.health, broker),
        on_startup=[service.start],
        on_shutdown=[service.stop],
        after_shutdown=[close_client],
    )
    return Trainer(app=app, broker=broker, service=service, registry=registry)


def create_app(settings: TrainerSettings) -> AsgiFastStream:
    """The trainer's ASGI app: the broker's consumers plus ``/health`` and ``/metrics``."""
    return build_trainer(settings).app
