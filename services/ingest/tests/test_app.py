"""The app: /health and /metrics, the pipelines.changed subscriber, start/stop without Kafka."""

from __future__ import annotations

from typing import Any

import httpx
from faststream.kafka import KafkaMessage, TestKafkaBroker

from continuum.contracts import PipelineChanged, encode_event
from continuum.contracts.topics import PIPELINES_CHANGED, dlq_topic
from continuum.ingest.app import app_for, create_app
from continuum.ingest.bootstrap import build
from continuum.ingest.settings import IngestSettings
from continuum.kafka import KafkaSettings, publish_event


def _settings() -> IngestSettings:
    return IngestSettings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        data_root="memory://app-test",
        registry_url="http://127.0.0.1:1",
        retry_backoff_seconds=0.01,
    )


def _get(app: Any, path: str) -> Any:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://ingest").get(path)


async def test_health_and_metrics_routes() -> None:
    app = create_app(_settings())
    health = await _get(app, "/health")
    assert health.status_code == 503  # not started: the consumer is not running
    assert health.json()["service"] == "ingest"
    metrics = await _get(app, "/metrics")
    assert metrics.status_code == 200
    assert "continuum_ingest_records_total" in metrics.text
    assert "continuum_consumer_lag" in metrics.text


async def test_pipelines_changed_announces_the_pipeline() -> None:
    parts = build(_settings())
    app = app_for(parts)
    service = parts.service
    event = PipelineChanged(
        pipeline="flights", spec_version=3, spec_sha256="a" * 64, source_topic="flights.raw"
    )
    async with TestKafkaBroker(app.broker) as broker:  # type: ignore[arg-type]
        await publish_event(broker, event, source="continuum-registry")
    entry = service.engine.catalog.entries["flights"]
    assert (entry.source_topic, entry.wanted_version, entry.ready) == ("flights.raw", 3, False)


async def test_an_unsigned_pipelines_changed_is_dead_lettered_not_followed() -> None:
    parts = build(_settings())
    app = app_for(parts)
    reasons: list[str] = []

    @parts.broker.subscriber(dlq_topic(PIPELINES_CHANGED), group_id="test-observer")
    async def dead(message: KafkaMessage) -> None:
        reasons.append(message.headers["dlq_reason"])

    event = PipelineChanged(
        pipeline="flights", spec_version=3, spec_sha256="a" * 64, source_topic="evil.raw"
    )
    record = encode_event(event, source="continuum-registry")  # no keyring: unsigned
    async with TestKafkaBroker(app.broker) as broker:  # type: ignore[arg-type]
        await broker.publish(record.value, topic=record.topic, headers=record.headers)
    assert "flights" not in parts.service.engine.catalog.entries
    assert len(reasons) == 1 and "unsigned event" in reasons[0]


async def test_service_starts_and_stops_while_kafka_and_registry_are_down() -> None:
    service = build(_settings()).service
    await service.start()
    health = await service.health()
    assert health["status"] == "starting"
    assert health["kafka_connected"] is False
    await service.stop()
    assert (await service.health())["status"] == "stopped"
