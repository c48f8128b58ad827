"""Broker connectivity as metrics, read at scrape time.

``continuum_broker_connected{service}`` is 1 while one of the broker's Kafka clients (its
producer, a subscriber's consumer) holds an open connection to a Kafka node, else 0; it
is read from the clients' connections when Prometheus scrapes, so it costs nothing
between scrapes and never waits on the network (``/health`` pings instead, which can
take seconds while Kafka is away). A consumer reconnects within its retry backoff and
heartbeats every few seconds, so the gauge follows an outage and a recovery closely.

``continuum_broker_connection_errors_total{service}`` counts failed connection attempts:
aiokafka reports each one as an "Unable connect ..." error record and exposes no other
hook, so a handler on its ``aiokafka`` logger counts those records (before any log filter
thins them out). The count is the process's; every Continuum process runs one service.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from continuum.kafka.consumer_lag import broker_consumers

CONNECTED_METRIC = "continuum_broker_connected"
ERRORS_METRIC = "continuum_broker_connection_errors"
_CONNECTED_HELP = "1 while this service holds a connection to a Kafka node, else 0."
_ERRORS_HELP = "Failed attempts of this service's Kafka clients to connect to a node."

CONNECTION_ERROR_TEMPLATES = frozenset(
    {
        "Unable connect to node with id %s: %s",  # a known node
        'Unable connect to "%s:%s": %s',  # a bootstrap server
    }
)

logger = logging.getLogger(__name__)


class _ConnectionErrorCount(logging.Handler):
    """Counts aiokafka's connection-failure records; writes nothing."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.count = 0
        self._count_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg in CONNECTION_ERROR_TEMPLATES:
            with self._count_lock:
                self.count += 1


_ERRORS = _ConnectionErrorCount()


def _count_connection_errors() -> None:
    """Attach the one process-wide counter to aiokafka's logger (once); its client logs
    to ``aiokafka`` itself, and a handler there also hears the child loggers."""
    client_logger = logging.getLogger("aiokafka")
    if _ERRORS not in client_logger.handlers:
        client_logger.addHandler(_ERRORS)


def _clients(broker: KafkaBroker) -> Iterator[Any]:
    """The started aiokafka clients (``AIOKafkaClient``) of ``broker``."""
    for _, consumer in broker_consumers(broker):
        yield getattr(consumer, "_client", None)
    # faststream 0.7: config.producer wraps a state whose ``producer`` is the AIOKafkaProducer.
    state = getattr(broker.config.producer, "_producer", None)
    yield getattr(getattr(state, "producer", None), "_client", None)


def is_connected(broker: KafkaBroker) -> bool:
    """Whether any client of ``broker`` has an open connection to a Kafka node now."""
    for client in _clients(broker):
        connections = getattr(client, "_conns", None) or {}
        if any(conn.connected() for conn in list(connections.values())):
            return True
    return False


class BrokerConnectivityCollector(Collector):
    """Reports both connectivity metrics of one service's broker."""

    def __init__(self, service: str, broker: KafkaBroker) -> None:
        self.service = service
        self.broker = broker

    def describe(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        """The metrics' names, so the registry refuses a second collector of them."""
        return [
            GaugeMetricFamily(CONNECTED_METRIC, _CONNECTED_HELP, labels=["service"]),
            CounterMetricFamily(ERRORS_METRIC, _ERRORS_HELP, labels=["service"]),
        ]

    def collect(self) -> Iterable[GaugeMetricFamily | CounterMetricFamily]:
        """The connection state now and the errors so far."""
        try:
            connected = is_connected(self.broker)
        except Exception:  # a scrape must not fail because a client is mid-restart
            logger.debug("could not read the broker's connections", exc_info=True)
            connected = False
        gauge = GaugeMetricFamily(CONNECTED_METRIC, _CONNECTED_HELP, labels=["service"])
        gauge.add_metric([self.service], 1.0 if connected else 0.0)
        errors = CounterMetricFamily(ERRORS_METRIC, _ERRORS_HELP, labels=["service"])
        errors.add_metric([self.service], float(_ERRORS.count))
        return [gauge, errors]


def watch_connectivity(
    registry: CollectorRegistry, *, service: str, broker: KafkaBroker
) -> BrokerConnectivityCollector:
    """Register ``service``'s connectivity metrics for ``broker`` in ``registry``."""
    _count_connection_errors()
    collector = BrokerConnectivityCollector(service, broker)
    registry.register(collector)
    return collector
