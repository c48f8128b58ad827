"""The whole service in memory: create_app's broker under TestKafkaBroker, real Evidently."""

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
    put_artifacts,
    reference_frame,
    registry_promotes,
    traffic,
)

from continuum.contracts import DriftDetected, Feedback, decode_event
from continuum.contracts.topics import DRIFT_DETECTED, PREDICTIONS, dlq_topic
from continuum.kafka import KafkaSettings, publish_event
from continuum.monitor.app import app_for
from continuum.monitor.bootstrap import build
from continuum.monitor.settings import MonitorSettings
from continuum.storage import MemoryObjectStore


def _settings(tmp_path: Any) -> MonitorSettings:
    return MonitorSettings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", transient_retry_backoff_seconds=0.001),
        state_dir=tmp_path,
        artifact_root="memory://unused",
        registry_url="http://127.0.0.1:1",
    )


def connected_to_kafka(broker: Any) -> None:
    """The in-memory broker has no connection to ping: make /health see a connected one."""

    async def ping(timeout: float | None = None) -> bool:  # noqa: ASYNC109
        return True

    broker.ping = ping


async def test_promotion_then_two_shifted_windows_fire_exactly_one_drift_event(tmp_path) -> None:
    store = MemoryObjectStore(f"memory://artifacts-{uuid4().hex}")
    registry = FakeRegistry()
    registry.apply(make_spec(window_rows=200, threshold=0.3, cooldown=3600))
    parts = build(_settings(tmp_path), registry=registry.client(), store=store)
    app = app_for(parts)
    connected_to_kafka(parts.broker)
    drift: list[DriftDetected] = []
    dead: list[dict[str, str]] = []

    @parts.broker.subscriber(DRIFT_DETECTED, group_id="test-observer")
    async def observe_drift(message: KafkaMessage) -> None:
        event = decode_event(message.body)
        assert isinstance(event, DriftDetected)
        drift.append(event)

    @parts.broker.subscriber(dlq_topic(PREDICTIONS), group_id="test-observer")
    async def observe_dlq(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    promoted = registry_promotes(registry, 1, put_artifacts(store, 1, reference_frame()))
    logged = predictions(traffic(400, shift=1.0, seed=21), version=1)
    async with TestKafkaBroker(parts.broker) as broker:
        await parts.monitor.bootstrap()  # the app's startup hook does this in a process
        await publish_event(broker, promoted, source="test")
        # A malformed message is dead-lettered and does not stop the stream.
        await broker.publish(b"{not json", topic=PREDICTIONS, key=PIPELINE.encode())
        for event in logged:
            await publish_event(broker, event, source="test")
        for event in logged[:50]:
            await publish_event(
                broker,
                Feedback(pipeline=PIPELINE, request_id=event.request_id, label=event.prediction),
                source="test",
            )

    assert len(drift) == 1
    (event,) = drift
    assert event.model_version == 1
    assert event.correlation_id == promoted.correlation_id
    assert event.window_rows == 200
    assert event.window_start < event.window_end
    assert event.threshold == 0.3 and event.drift_share >= 0.3
    drifted = {c.column for c in event.columns if c.drifted}
    assert {"n0", "n1", "n2", "n3", "carrier"} <= drifted
    assert "n6" not in drifted
    assert event.prediction_drift is not None and event.prediction_drift.column == "prediction"
    assert len(dead) == 1 and dead[0]["dlq_source_topic"] == PREDICTIONS

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitor") as client:
        metrics = (await client.get("/metrics")).text
        health = await client.get("/health")

    assert f'continuum_monitor_drift_share{{model_version="1",pipeline="{PIPELINE}"}}' in metrics
    assert f'continuum_monitor_windows_evaluated_total{{pipeline="{PIPELINE}"}} 2.0' in metrics
    assert f'continuum_monitor_drift_events_total{{pipeline="{PIPELINE}"}} 1.0' in metrics
    assert f'continuum_monitor_feature_drift_score{{feature="n0",pipeline="{PIPELINE}"}}' in metrics
    assert f'continuum_monitor_prediction_drift_score{{pipeline="{PIPELINE}"}}' in metrics
    assert f'continuum_monitor_window_fill_ratio{{pipeline="{PIPELINE}"}} 0.0' in metrics
    assert (
        'continuum_monitor_model_quality{metric="accuracy",model_version="1",'
        f'pipeline="{PIPELINE}"}} 1.0'
    ) in metrics
    assert "continuum_dlq_messages_total" in metrics
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["pipelines"][PIPELINE]["champion"] == 1


async def test_health_is_503_until_the_registry_was_read(tmp_path) -> None:
    parts = build(_settings(tmp_path), registry=FakeRegistry().client())
    app = app_for(parts)
    connected_to_kafka(parts.broker)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://monitor") as client:
        before = await client.get("/health")
        await parts.monitor.bootstrap()
        after = await client.get("/health")

    assert before.status_code == 503 and before.json()["status"] == "starting"
    assert after.status_code == 200 and after.json()["kafka"] == "ok"


async def test_an_event_on_the_wrong_topic_is_dead_lettered(tmp_path) -> None:
    registry = FakeRegistry()
    registry.apply(make_spec())
    parts = build(_settings(tmp_path), registry=registry.client())
    dead: list[dict[str, str]] = []

    @parts.broker.subscriber(dlq_topic(PREDICTIONS), group_id="test-observer")
    async def observe_dlq(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(parts.broker) as broker:
        await parts.monitor.bootstrap()
        feedback = Feedback(pipeline=PIPELINE, request_id="r-1", label=1)
        await publish_event(broker, feedback, source="test", topic=PREDICTIONS)

    assert len(dead) == 1
    assert dead[0]["dlq_reason"].startswith("WrongEventError: expected PredictionLogged")
