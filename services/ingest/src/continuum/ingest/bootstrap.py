"""The one place ingest is wired: ``build(settings)`` makes every part; nothing connects yet.

The source topics are consumed by a plain aiokafka consumer in a background task (rows
are buffered across messages, so FastStream's per-message ack does not fit); the
FastStream broker follows ``continuum.pipelines.changed`` and serves the HTTP routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import PipelineChanged
from continuum.contracts.topics import PIPELINES_CHANGED
from continuum.featurestore import OnlineStore, open_online_store
from continuum.ingest.consumer_loop import ConsumerLoop
from continuum.ingest.engine import IngestEngine
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.ingest.kafka_io import ConsumerCommitter, KafkaEventPublisher, make_source_consumer
from continuum.ingest.metrics import SERVICE, IngestMetrics
from continuum.ingest.service import IngestService
from continuum.ingest.settings import IngestSettings
from continuum.ingest.spec_sync import SpecSync
from continuum.kafka import build_broker, watch_consumer_lag
from continuum.registry_client import RegistryClient
from continuum.storage import ObjectStore, open_store

SOURCE = "continuum.ingest"
"""The CloudEvents ``source`` of every event ingest publishes."""


@dataclass(frozen=True)
class IngestParts:
    """What :func:`build` wired, for the app and for tests."""

    settings: IngestSettings
    metrics: CollectorRegistry
    broker: KafkaBroker
    registry: RegistryClient
    service: IngestService


def build(
    settings: IngestSettings,
    *,
    registry: RegistryClient | None = None,
    store: ObjectStore | None = None,
    broker: KafkaBroker | None = None,
    online: OnlineStore | None = None,
) -> IngestParts:
    """Ingest's parts; the registry client, store and broker default to the settings'."""
    collectors = CollectorRegistry()
    metrics = IngestMetrics(collectors)
    registry = registry or RegistryClient(settings.registry_url, token=settings.registry_bearer)
    publisher = KafkaEventPublisher(settings.kafka, source=SOURCE)
    committer = ConsumerCommitter()
    store = store or open_store(settings.data_root)
    features = FeatureViewWriter(
        state_dir=settings.state_dir,
        store=store,
        online=online or open_online_store(settings.online_store_uri),
    )
    engine = IngestEngine(
        store=store,
        publisher=publisher,
        committer=committer,
        metrics=metrics,
        features=features,
        in_flight_steps=settings.in_flight_steps,
    )
    sync = SpecSync(
        registry,
        engine,
        refresh_seconds=settings.spec_refresh_seconds,
        backoff_seconds=settings.retry_backoff_seconds,
    )
    loop = ConsumerLoop(
        make_consumer=lambda: make_source_consumer(
            settings.kafka,
            group_id=settings.group_id,
            max_records=settings.poll_max_records,
            metadata_refresh_seconds=settings.metadata_refresh_seconds,
        ),
        engine=engine,
        committer=committer,
        metrics=metrics,
        tick_seconds=settings.tick_seconds,
        backoff_seconds=settings.retry_backoff_seconds,
    )
    service = IngestService(
        registry=registry,
        publisher=publisher,
        engine=engine,
        sync=sync,
        loop=loop,
        backoff_seconds=settings.retry_backoff_seconds,
    )
    broker = broker or build_broker(settings.kafka, service=SERVICE, registry=collectors)
    # One lag metric for both consumers: the spec subscriber and the source-topic consumer.
    lag = watch_consumer_lag(collectors, service=SERVICE, broker=broker)
    lag.watch(settings.group_id, lambda: loop.consumer)

    @broker.subscriber(
        PIPELINES_CHANGED, group_id=settings.spec_group_id, auto_offset_reset="earliest"
    )
    async def pipeline_changed(event: PipelineChanged) -> None:
        await sync.on_changed(event)

    return IngestParts(
        settings=settings, metrics=collectors, broker=broker, registry=registry, service=service
    )
