"""Forged events on the monitor's topics: refused with the reason, nobody moved.

A promotion or a prediction the broker cannot verify (unsigned, or signed with another
deployment's key) goes to the DLQ with the reason; the monitor keeps watching the champion
it had. Real promotions and predictions (signed with this deployment's key) still count.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import httpx
from faststream.kafka import KafkaMessage, TestKafkaBroker
from monitor_testkit import (
    PIPELINE,
    FakeRegistry,
    make_spec,
    predictions,
    promotion,
    put_artifacts,
    reference_frame,
    traffic,
)

from continuum.contracts import (
    Event,
    EventKeyring,
    PredictionLogged,
    PredictionRecord,
    PredictionsLogged,
    encode_event,
)
from continuum.contracts.topics import MODELS_PROMOTED, PREDICTIONS, dlq_topic
from continuum.kafka import KafkaSettings, publish_event
from continuum.monitor.app import app_for
from continuum.monitor.bootstrap import build
from continuum.monitor.settings import MonitorSettings
from continuum.storage import MemoryObjectStore

ATTACKER = EventKeyring.of(["an-attackers-own-key-1234567890"])


def _monitor_with_champion(tmp_path: Any) -> tuple[MemoryObjectStore, Any]:
    """The monitor's parts over an in-memory store, v1 the champion in the fake registry."""
    store = MemoryObjectStore(f"memory://artifacts-{uuid4().hex}")
    registry = FakeRegistry()
    registry.apply(make_spec(window_rows=200))
    champion = put_artifacts(store, 1, reference_frame())
    registry.add_model(PIPELINE, 1, champion, champion=True)
    settings = MonitorSettings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        state_dir=tmp_path,
        artifact_root="memory://unused",
        registry_url="http://127.0.0.1:1",
    )
    return store, build(settings, registry=registry.client(), store=store)


async def _forge(broker: Any, event: Event, keyring: EventKeyring | None) -> None:
    record = encode_event(event, source="continuum-registry", keyring=keyring)
    await broker.publish(record.value, topic=record.topic, key=record.key, headers=record.headers)


async def test_forged_promotions_and_predictions_are_dead_lettered_and_move_nobody(
    tmp_path: Any,
) -> None:
    store, parts = _monitor_with_champion(tmp_path)
    dead: dict[str, list[dict[str, str]]] = {MODELS_PROMOTED: [], PREDICTIONS: []}

    @parts.broker.subscriber(dlq_topic(MODELS_PROMOTED), group_id="test-observer")
    async def dead_promotions(message: KafkaMessage) -> None:
        dead[MODELS_PROMOTED].append(dict(message.headers))

    @parts.broker.subscriber(dlq_topic(PREDICTIONS), group_id="test-observer")
    async def dead_predictions(message: KafkaMessage) -> None:
        dead[PREDICTIONS].append(dict(message.headers))

    forged = promotion(99, put_artifacts(store, 99, reference_frame(seed=9)))
    first, second, genuine = predictions(traffic(3, seed=5), version=1)
    async with TestKafkaBroker(parts.broker) as broker:
        await parts.monitor.bootstrap()
        await _forge(broker, forged, None)
        await _forge(broker, forged, ATTACKER)
        await _forge(broker, first, None)
        await _forge(broker, second, ATTACKER)
        await publish_event(broker, genuine, source="continuum-serving")

    reasons = [h["dlq_reason"] for h in dead[MODELS_PROMOTED]]
    assert len(reasons) == 2
    assert reasons[0].startswith("UnverifiedEventError: unsigned event")
    assert reasons[1].startswith("UnverifiedEventError: bad signature")
    assert {h["dlq_service"] for h in dead[MODELS_PROMOTED]} == {"monitor"}
    assert [h["ce_id"] for h in dead[PREDICTIONS]] == [str(first.event_id), str(second.event_id)]

    app = app_for(parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitor") as client:
        body = (await client.get("/health")).json()
        metrics = (await client.get("/metrics")).text
    assert body["pipelines"][PIPELINE]["champion"] == 1  # v99 never watched
    # The genuine prediction reached the champion's window (one of 200 rows).
    assert f'continuum_monitor_window_fill_ratio{{pipeline="{PIPELINE}"}} 0.005' in metrics


def _as_batch(events: list[PredictionLogged]) -> PredictionsLogged:
    return PredictionsLogged(
        pipeline=PIPELINE,
        model_version=events[0].model_version,
        predictions=[
            PredictionRecord(
                request_id=e.request_id, occurred_at=e.occurred_at, features=e.features,
                prediction=e.prediction, probabilities=e.probabilities, entity_id=e.entity_id,
                event_time=e.event_time,
            )
            for e in events
        ],
    )  # fmt: skip


async def test_a_signed_prediction_batch_fills_the_window_and_a_forged_one_is_dead_lettered(
    tmp_path: Any,
) -> None:
    _, parts = _monitor_with_champion(tmp_path)
    dead: list[dict[str, str]] = []

    @parts.broker.subscriber(dlq_topic(PREDICTIONS), group_id="test-observer")
    async def dead_predictions(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    genuine = _as_batch(predictions(traffic(10, seed=6), version=1))
    forged = _as_batch(predictions(traffic(30, seed=7), version=1, prefix="x"))
    async with TestKafkaBroker(parts.broker) as broker:
        await parts.monitor.bootstrap()
        await _forge(broker, forged, ATTACKER)
        await publish_event(broker, genuine, source="continuum-serving")
        await publish_event(broker, genuine, source="continuum-serving")  # redelivered

    assert [h["ce_id"] for h in dead] == [str(forged.event_id)]
    assert dead[0]["dlq_reason"].startswith("UnverifiedEventError: bad signature")
    app = app_for(parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitor") as client:
        metrics = (await client.get("/metrics")).text
    # Each of the 10 predictions is one row of the 200-row window, counted once.
    assert f'continuum_monitor_window_fill_ratio{{pipeline="{PIPELINE}"}} 0.05' in metrics
