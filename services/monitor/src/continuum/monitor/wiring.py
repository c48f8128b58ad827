"""The one place the monitor's parts are built and connected (no globals, no I/O here)."""

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
from continuum.monitor.registry_view import RegistryReader
from continuum.monitor.settings import MonitorSettings
from continuum.storage import ObjectStore, open_store

SOURCE = "continuum-monitor"
"""The CloudEvents ``ce_source`` of what the monitor publishes."""


@dataclass(frozen=True)
class MonitorParts:
    """Everything ``create_app`` serves, also handy for tests."""

    settings: MonitorSettings
    registry: CollectorRegistry
    broker: KafkaBroker
    monitor: Monitor


def wire(
    settings: MonitorSettings,
    *,
    registry_reader: RegistryReader,
    store: ObjectStore | None = None,
) -> MonitorParts:
    """Build the broker, the monitor and its subscribers; nothing connects yet."""
    registry = CollectorRegistry()
    broker = build_broker(
        settings.kafka,
        service=settings.service_name,
        registry=registry,
        logger=logging.getLogger("continuum.monitor.kafka"),
    )
    watch_consumer_lag(registry, service=settings.service_name, broker=broker)

    async def publish(event: Event) -> None:
        await publish_event(broker, event, source=SOURCE)

    monitor = Monitor(
        registry=registry_reader,
        store=store or open_store(settings.artifact_root),
        publish=publish,
        metrics=MonitorMetrics(registry),
        cooldowns=CooldownStore(settings.state_dir),
        seen_capacity=settings.seen_event_ids,
        join_capacity=settings.joinable_predictions,
        quality_window_rows=settings.quality_window_rows,
        registry_retry_seconds=settings.registry_retry_seconds,
    )
    register_handlers(broker, monitor, group_id=settings.consumer_group)
    return MonitorParts(settings=settings, registry=registry, broker=broker, monitor=monitor)
