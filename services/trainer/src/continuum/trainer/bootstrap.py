"""The one place the trainer is wired: ``build(settings)`` makes every part; nothing connects yet.

There is no ``store`` hook: runs read and write the stores in a worker process, which
opens them from the settings' URIs (tests use ``memory://`` stores with a thread worker).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial

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
from continuum.trainer.jobs import TrainFn
from continuum.trainer.metrics import TrainerMetrics
from continuum.trainer.runner import Runner, make_executor
from continuum.trainer.service import TrainerService
from continuum.trainer.settings import TrainerSettings
from continuum.trainer.worker import train_run

GROUP_ID = "continuum-trainer"
SERVICE = "trainer"


@dataclass(frozen=True)
class TrainerParts:
    """What :func:`build` wired, for the app and for tests."""

    settings: TrainerSettings
    metrics: CollectorRegistry
    broker: KafkaBroker
    registry: RegistryClient
    service: TrainerService


def build(
    settings: TrainerSettings,
    *,
    registry: RegistryClient | None = None,
    broker: KafkaBroker | None = None,
    train_fn: TrainFn = train_run,
    executor_factory: Callable[[], Executor] | None = None,
) -> TrainerParts:
    """The trainer's parts; tests swap the registry client, the worker and its pool."""
    collectors = CollectorRegistry()
    metrics = TrainerMetrics(collectors)
    broker = broker or build_broker(settings.kafka, service=SERVICE, registry=collectors)
    watch_consumer_lag(collectors, service=SERVICE, broker=broker)
    registry = registry or RegistryClient(settings.registry_url, token=settings.registry_bearer)
    runner = Runner(
        settings=settings,
        registry=registry,
        broker=broker,
        metrics=metrics,
        train_fn=train_fn,
        executor_factory=executor_factory or partial(make_executor, settings),
    )
    service = TrainerService(settings, registry, metrics, runner)

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

    return TrainerParts(
        settings=settings, metrics=collectors, broker=broker, registry=registry, service=service
    )
