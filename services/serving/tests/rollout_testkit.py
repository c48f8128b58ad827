"""Helpers for rollout tests: a registry mid-rollout, the log as the monitor reads it."""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaMessage
from serving_testkit import registry_with_champion

from continuum.contracts import PredictionsLogged, RolloutChanged, decode_event
from continuum.contracts.topics import PREDICTIONS
from continuum.kafka import keyring_of, verify_record
from continuum.registry_client.testing import FakeRegistry
from continuum.serving.bootstrap import ServingParts
from continuum.storage import ObjectStore

ROLLOUT_ID = "flights-rollout-1"


def registry_mid_rollout(store: ObjectStore, **rollout: Any) -> FakeRegistry:
    """Versions 1 (champion) and 2 trained; a rollout of 2 against 1 (``rollout`` fields)."""
    registry = registry_with_champion(store, versions=2)
    registry.set_rollout("flights", rollout_id=ROLLOUT_ID, **rollout)
    return registry


def collect_logs(into: list[PredictionsLogged]) -> Any:
    """A ``setup`` that collects every PredictionsLogged as the monitor gets it: verified
    and decoded with the contract."""

    def setup(parts: ServingParts) -> None:
        keyring = keyring_of(parts.broker)

        @parts.broker.subscriber(PREDICTIONS, group_id="test-monitor")
        async def collect(message: KafkaMessage) -> None:
            verify_record(keyring, message.raw_message)
            event = decode_event(message.body)
            assert isinstance(event, PredictionsLogged)
            into.append(event)

    return setup


def rollout_event(registry: FakeRegistry, pipeline: str = "flights") -> RolloutChanged:
    """The RolloutChanged the registry publishes for its current rollout record."""
    record = registry.rollouts[pipeline]
    return RolloutChanged(
        pipeline=pipeline,
        rollout_id=record.rollout_id,
        strategy=record.strategy,
        champion_version=record.champion_version,
        candidate_version=record.candidate_version,
        step=record.step,
        traffic_share=record.traffic_share,
        state=record.state,
        reason=record.reason,
    )


def by_arm(messages: list[PredictionsLogged]) -> dict[str, list[PredictionsLogged]]:
    """The messages of each arm."""
    arms: dict[str, list[PredictionsLogged]] = {}
    for message in messages:
        arms.setdefault(message.arm, []).append(message)
    return arms


def logged_count(messages: list[PredictionsLogged]) -> int:
    """How many predictions ``messages`` carry."""
    return sum(len(m.predictions) for m in messages)
