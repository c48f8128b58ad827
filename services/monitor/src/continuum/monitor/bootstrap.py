"""The one place the monitor is wired: ``build(settings)`` makes every part; no I/O here."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import Event
from continuum.kafka import build_broker, publish_event, watch_consumer_lag
from continuum.monitor.cooldown import CooldownStore
from continuum.monitor.handlers import register_handlers
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.monitor import Monitor
from continuum.monitor.settings import MonitorSettings
from continuum.registry_client import RegistryClient
from continuum.storage import ObjectStore, open_store

SOURCE = "continuum-monitor"
"""The CloudEvents ``ce_source`` of what the monitor publishes."""


@dataclass(frozen=True)
class MonitorParts:
    """What :func:`build` wired, for the app and for tests."""

    settings: MonitorSettings
    metrics: CollectorRegistry
    broker: KafkaBroker
    registry: RegistryClient
    monitor: Monitor


def build(
    settings: MonitorSettings,
    *,
    registry: RegistryClient | None = None,
    store: ObjectStore | None = None,
    broker: KafkaBroker | None = None,
) -> MonitorParts:
    """The monitor's parts; the registry client, store and broker default to the settings'."""
    collectors = CollectorRegistry()
    broker = broker or build_broker(
        settings.kafka,
        service=settings.service_name,
        registry=collectors,
        logger=logging.getLogger("continuum.monitor.kafka"),
    )
    watch_consumer_lag(collectors, service=settings.service_name, broker=broker)
    registry = registry or RegistryClient(settings.registry_url, token=settings.registry_bearer)

    async def publish(event: Event) -> None:
        await publish_event(broker, event, source=SOURCE)

    monitor = Monitor(
        registry=registry,
        store=store or open_store(settings.artifact_root),
        publish=publish,
        metrics=MonitorMetrics(collectors),
        cooldowns=CooldownStore(settings.state_dir),
        seen_capacity=settings.seen_event_ids,
        join_capacity=settings.joinable_predictions,
        quality_window_rows=settings.quality_window_rows,
        registry_retry_seconds=settings.registry_retry_seconds,
    )
    register_handlers(broker, monitor, group_id=settings.consumer_group)
    return MonitorParts(
        settings=settings, metrics=collectors, broker=broker, registry=registry, monitor=monitor
    )
