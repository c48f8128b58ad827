"""Broker connectivity metrics without a broker: the gauge reads the clients' connections,
the counter counts aiokafka's connection-failure records."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from continuum.kafka import KafkaSettings, build_broker, connectivity


def _broker(registry: CollectorRegistry) -> Any:
    settings = KafkaSettings(event_key=SecretStr("k" * 32))
    return build_broker(settings, service="unit", registry=registry)


def _sample(registry: CollectorRegistry, name: str) -> float | None:
    return registry.get_sample_value(name, {"service": "unit"})


class Conn:
    def __init__(self, up: bool) -> None:
        self.up = up

    def connected(self) -> bool:
        return self.up


def test_a_broker_not_started_is_not_connected() -> None:
    registry = CollectorRegistry()
    _broker(registry)
    assert _sample(registry, "continuum_broker_connected") == 0.0


def test_connected_while_a_client_holds_an_open_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = CollectorRegistry()
    broker = _broker(registry)
    client = SimpleNamespace(_conns={("1", 0): Conn(False)})
    monkeypatch.setattr(connectivity, "_clients", lambda _broker: iter([None, client]))
    assert _sample(registry, "continuum_broker_connected") == 0.0
    client._conns[("bootstrap", 0)] = Conn(True)
    assert connectivity.is_connected(broker)
    assert _sample(registry, "continuum_broker_connected") == 1.0


def test_connection_failures_are_counted_and_other_errors_are_not() -> None:
    registry = CollectorRegistry()
    _broker(registry)
    before = _sample(registry, "continuum_broker_connection_errors_total")
    assert before is not None
    client_log = logging.getLogger("aiokafka")
    client_log.error("Unable connect to node with id %s: %s", 1, "refused")
    client_log.error('Unable connect to "%s:%s": %s', "127.0.0.1", 9, "refused")
    client_log.error("Unable to update metadata from %s", [1])
    assert _sample(registry, "continuum_broker_connection_errors_total") == before + 2
