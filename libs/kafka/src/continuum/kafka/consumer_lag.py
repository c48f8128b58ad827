"""Consumer lag per topic partition, read from the live consumers at scrape time.

``continuum_consumer_lag{service,group,topic,partition}`` is the partition's high watermark
minus the consumer's fetch position: how many messages the consumer still has to read.
It is computed when Prometheus scrapes (a custom collector), so it is never stale and
costs nothing between scrapes. A partition whose high watermark is not known yet (no
fetch response so far) is left out rather than reported as zero.

Every FastStream subscriber of a broker is covered by :meth:`ConsumerLagCollector.watch_broker`
(faststream 0.7 keeps the ``AIOKafkaConsumer`` in ``subscriber.consumer``, or a list of
them in ``subscriber.consumer_subgroup`` for concurrent-between-partitions subscribers);
a service with its own aiokafka consumer adds it with :meth:`ConsumerLagCollector.watch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LAG_METRIC = "continuum_consumer_lag"
LAG_LABELS = ("service", "group", "topic", "partition")
_HELP = "Messages between the consumer's position and the partition's high watermark."

ConsumerSource = Callable[[], Iterable[tuple[str, Any]]]
"""Yields ``(consumer group, aiokafka consumer)`` pairs as they are right now."""

logger = logging.getLogger(__name__)


def fetch_position(consumer: Any, partition: Any) -> int | None:
    """The consumer's fetch position of ``partition``, or None when it has none yet.

    aiokafka's public ``position()`` is a coroutine (it may wait for an offset reset),
    and a collector runs synchronously, so this reads the same per-partition state that
    ``position()`` and ``highwater()`` read, without waiting.
    """
    try:
        state = consumer._subscription.subscription.assignment.state_value(partition)
    except (AttributeError, KeyError):
        return None
    if state is None or not state.has_valid_position:
        return None
    return int(state.position)


def partition_lags(consumer: Any) -> dict[tuple[str, int], int]:
    """``{(topic, partition): lag}`` of every assigned partition with a known high watermark."""
    lags = {}
    for tp in list(consumer.assignment()):
        highwater = consumer.highwater(tp)
        position = fetch_position(consumer, tp)
        if highwater is None or position is None:
            continue
        lags[(tp.topic, tp.partition)] = max(int(highwater) - position, 0)
    return lags


def broker_consumers(broker: KafkaBroker) -> Iterator[tuple[str, Any]]:
    """The started aiokafka consumers of every subscriber of ``broker``, with their group."""
    for subscriber in broker.subscribers:
        group = getattr(subscriber, "group_id", None) or ""
        consumers = getattr(subscriber, "consumer_subgroup", None) or [
            getattr(subscriber, "consumer", None)
        ]
        for consumer in consumers:
            if consumer is not None:
                yield group, consumer


class ConsumerLagCollector(Collector):
    """Reports ``continuum_consumer_lag`` for every consumer it watches."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._sources: list[ConsumerSource] = []

    def watch_broker(self, broker: KafkaBroker) -> None:
        """Cover every subscriber of ``broker`` (also those added later)."""
        self._sources.append(lambda: broker_consumers(broker))

    def watch(self, group: str, consumer: Callable[[], Any | None]) -> None:
        """Cover a consumer of ``group`` that ``consumer()`` returns (None while it has none)."""

        def source() -> Iterable[tuple[str, Any]]:
            current = consumer()
            return [] if current is None else [(group, current)]

        self._sources.append(source)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        """The metric's name, so the registry refuses a second metric of the same name."""
        return [GaugeMetricFamily(LAG_METRIC, _HELP, labels=LAG_LABELS)]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        """One sample per (group, topic, partition) currently assigned to a watched consumer."""
        lags: dict[tuple[str, str, str], int] = {}
        for source in self._sources:
            try:
                pairs = list(source())
            except Exception:  # a scrape must not fail because one consumer is mid-restart
                logger.debug("could not list consumers", exc_info=True)
                continue
            for group, consumer in pairs:
                try:
                    found = partition_lags(consumer)
                except Exception:
                    logger.debug("could not read the lag of a %s consumer", group, exc_info=True)
                    continue
                for (topic, partition), lag in found.items():
                    key = (group, topic, str(partition))
                    # During a rebalance two consumers of a group may both hold a partition.
                    lags[key] = max(lags.get(key, 0), lag)
        family = GaugeMetricFamily(LAG_METRIC, _HELP, labels=LAG_LABELS)
        for (group, topic, partition_label), lag in sorted(lags.items()):
            family.add_metric([self.service, group, topic, partition_label], lag)
        return [family]


def watch_consumer_lag(
    registry: CollectorRegistry, *, service: str, broker: KafkaBroker | None = None
) -> ConsumerLagCollector:
    """Register a lag collector for ``service`` in ``registry``, covering ``broker`` if given."""
    collector = ConsumerLagCollector(service)
    if broker is not None:
        collector.watch_broker(broker)
    registry.register(collector)
    return collector
