"""The consumer-lag collector: highwater - position per assigned partition, at scrape time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from continuum.kafka import KafkaSettings, build_broker, watch_consumer_lag
from continuum.kafka.consumer_lag import LAG_METRIC


@dataclass
class _PartitionState:
    position: int | None

    @property
    def has_valid_position(self) -> bool:
        return self.position is not None


@dataclass
class FakeConsumer:
    """Just what the collector reads: assignment, highwaters and per-partition positions."""

    highwaters: dict[TopicPartition, int | None]
    positions: dict[TopicPartition, int | None]
    _subscription: Any = field(init=False)

    def __post_init__(self) -> None:
        states = {tp: _PartitionState(pos) for tp, pos in self.positions.items()}

        class _Assignment:
            def state_value(self, tp: TopicPartition) -> _PartitionState:
                return states[tp]

        class _Subscription:
            assignment = _Assignment()

        class _State:
            subscription = _Subscription()

        self._subscription = _State()

    def assignment(self) -> set[TopicPartition]:
        return set(self.highwaters)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp]


class BrokenConsumer:
    def assignment(self) -> set[TopicPartition]:
        raise RuntimeError("closed")


def _samples(registry: CollectorRegistry) -> dict[tuple[str, ...], float]:
    return {
        tuple(sample.labels[k] for k in ("service", "group", "topic", "partition")): sample.value
        for metric in registry.collect()
        if metric.name == LAG_METRIC
        for sample in metric.samples
    }


def test_lag_is_highwater_minus_position_and_unknown_highwaters_are_skipped() -> None:
    registry = CollectorRegistry()
    collector = watch_consumer_lag(registry, service="unit")
    a0, a1, b0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)
    consumer = FakeConsumer(
        highwaters={a0: 120, a1: None, b0: 7},
        positions={a0: 100, a1: 3, b0: None},  # b0 has no position yet (offset reset pending)
    )
    collector.watch("continuum-unit", lambda: consumer)
    assert _samples(registry) == {("unit", "continuum-unit", "a", "0"): 20.0}

    consumer.highwaters[a0] = 100  # caught up
    assert _samples(registry) == {("unit", "continuum-unit", "a", "0"): 0.0}


def test_a_missing_or_broken_consumer_does_not_break_the_scrape() -> None:
    registry = CollectorRegistry()
    collector = watch_consumer_lag(registry, service="unit")
    tp = TopicPartition("a", 0)
    collector.watch("none-yet", lambda: None)
    collector.watch("broken", BrokenConsumer)
    collector.watch("ok", lambda: FakeConsumer(highwaters={tp: 5}, positions={tp: 2}))
    assert _samples(registry) == {("unit", "ok", "a", "0"): 3.0}
    text = generate_latest(registry).decode()
    assert "# TYPE continuum_consumer_lag gauge" in text


def test_the_metric_exists_without_consumers_and_its_name_cannot_be_taken_twice() -> None:
    registry = CollectorRegistry()
    watch_consumer_lag(registry, service="unit")
    assert "continuum_consumer_lag" in generate_latest(registry).decode()
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Gauge(LAG_METRIC, "a second lag metric", registry=registry)


def test_every_subscriber_of_a_broker_is_covered_with_its_group() -> None:
    registry = CollectorRegistry()
    broker = build_broker(
        KafkaSettings(bootstrap_servers="127.0.0.1:1", event_key="unit-test-event-key-0123456789"),
        service="unit",
        registry=registry,
    )

    @broker.subscriber("jobs", group_id="continuum-unit")
    async def handle(body: dict[str, Any]) -> None: ...

    watch_consumer_lag(registry, service="unit", broker=broker)
    assert _samples(registry) == {}  # not started: no consumer

    tp = TopicPartition("jobs", 2)
    [subscriber] = broker.subscribers
    subscriber.consumer = FakeConsumer(highwaters={tp: 50}, positions={tp: 8})  # type: ignore[attr-defined]
    assert _samples(registry) == {("unit", "continuum-unit", "jobs", "2"): 42.0}


async def test_reads_the_state_of_a_real_aiokafka_consumer() -> None:
    """Pins the per-partition state the collector reads to the installed aiokafka."""
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", group_id="g")
    registry = CollectorRegistry()
    watch_consumer_lag(registry, service="unit").watch("g", lambda: consumer)
    tp = TopicPartition("t", 0)
    consumer.assign([tp])
    state = consumer._subscription.subscription.assignment.state_value(tp)
    assert _samples(registry) == {}  # neither highwater nor position yet
    state.highwater = 10
    state.reset_to(4)
    assert _samples(registry) == {("unit", "g", "t", "0"): 6.0}
    await consumer.stop()
