"""The one place serving is wired: ``build(settings)`` makes every part; nothing connects yet."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from continuum.featurestore import OnlineStore
from continuum.kafka import build_broker, watch_consumer_lag
from continuum.registry_client import RegistryClient
from continuum.serving.enrichment import FeatureLookup
from continuum.serving.manager import ModelManager
from continuum.serving.metrics import ServingMetrics
from continuum.serving.models import ModelTable
from continuum.serving.prediction_log import PredictionLog
from continuum.serving.predictor import Predictor
from continuum.serving.settings import ServingSettings
from continuum.serving.shadow import ShadowQueue
from continuum.serving.subscribers import register_subscribers
from continuum.storage import ObjectStore, open_store

SERVICE = "serving"


@dataclass(frozen=True)
class ServingParts:
    """What :func:`build` wired (one set per app, never module globals)."""

    settings: ServingSettings
    metrics: ServingMetrics
    broker: KafkaBroker
    registry: RegistryClient
    table: ModelTable
    manager: ModelManager
    log: PredictionLog
    shadow: ShadowQueue
    features: FeatureLookup
    predictor: Predictor


def build(
    settings: ServingSettings,
    *,
    registry: RegistryClient | None = None,
    store: ObjectStore | None = None,
    broker: KafkaBroker | None = None,
    online_store: OnlineStore | None = None,
) -> ServingParts:
    """Serving's parts; the registry client, artifact store, broker and online store
    default to the settings' (the online store opens only when a feature view needs it)."""
    metrics = ServingMetrics(CollectorRegistry())
    features = FeatureLookup(settings.online_store_uri, metrics.registry, store=online_store)
    broker = broker or build_broker(settings.kafka, service=SERVICE, registry=metrics.registry)
    watch_consumer_lag(metrics.registry, service=SERVICE, broker=broker)
    registry = registry or RegistryClient(settings.registry_url, token=settings.registry_bearer)
    table = ModelTable()
    manager = ModelManager(
        table,
        registry,
        store or open_store(settings.artifact_root),
        metrics,
        retry_seconds=settings.registry_retry_seconds,
        batch_max_rows=settings.batch_max_rows,
        inline_max_rows=settings.inline_max_rows,
        features=features,
    )
    log = PredictionLog(
        broker, metrics, max_size=settings.log_queue_size, batch_size=settings.log_batch_size
    )
    shadow = ShadowQueue(log, metrics, max_records=settings.shadow_queue_size)
    register_subscribers(broker, manager, group_id=settings.consumer_group)
    return ServingParts(
        settings=settings,
        metrics=metrics,
        broker=broker,
        registry=registry,
        table=table,
        manager=manager,
        log=log,
        shadow=shadow,
        features=features,
        predictor=Predictor(log, max_records=settings.max_records, shadow=shadow),
    )
