"""Forged ``continuum.models.trained`` events: refused before the registry reads them.

Whoever can write to Kafka could claim a run with inflated metrics; without this
deployment's event key its event is dead-lettered with the reason and nothing is recorded,
registered or promoted. A signed event (this deployment's key) is handled as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from faststream.kafka import KafkaMessage, TestKafkaBroker

from continuum.contracts import (
    DataVersion,
    EventKeyring,
    ModelArtifacts,
    ModelTrained,
    StoredObject,
    encode_event,
)
from continuum.contracts.topics import MODELS_PROMOTED, MODELS_TRAINED, dlq_topic
from continuum.kafka import KafkaSettings, publish_event
from continuum.registry.app import create_app
from continuum.registry.settings import RegistrySettings
from continuum.registry_client import RegistryClient

TOKEN = "forged-events-test-token"
ATTACKER = EventKeyring.of(["an-attackers-own-key-1234567890"])
SPEC_YAML = """
name: churn
source_topic: churn.records
task: binary_classification
schema:
  features:
    - {name: tenure, type: numeric, min: 0}
  target: {name: churned}
  event_time: ts
model:
  estimator: LogisticRegression
promotion:
  metric: roc_auc
"""


def _trained(run_id: str, **fields: Any) -> ModelTrained:
    stored = StoredObject(uri=f"memory://x/{run_id}", sha256="0" * 64, size_bytes=1)
    values: dict[str, Any] = {
        "pipeline": "churn",
        "run_id": run_id,
        "trigger": "new_data",
        "status": "succeeded",
        "spec_version": 1,
        "data_version": DataVersion.of(["b-1"]),
        "artifacts": ModelArtifacts(model=stored, reference_sample=stored, model_card=stored),
        "metric": "roc_auc",
        "metrics": {"roc_auc": 0.999},
    }
    return ModelTrained(**(values | fields))


async def _forge(broker: Any, event: ModelTrained, keyring: EventKeyring | None) -> None:
    record = encode_event(event, source="continuum-trainer", keyring=keyring)
    await broker.publish(record.value, topic=record.topic, key=record.key, headers=record.headers)


async def test_forged_trained_events_are_dead_lettered_and_nothing_is_registered(
    tmp_path: Path,
) -> None:
    settings = RegistrySettings(
        token=TOKEN,
        database_url=f"sqlite:///{tmp_path / 'registry.db'}",
        artifact_root=f"memory://registry-forged-{uuid4().hex}",
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        outbox_poll_seconds=3600,
    )
    app = create_app(settings)
    broker = app.state.broker
    dead: list[dict[str, str]] = []
    promoted: list[bytes] = []

    @broker.subscriber(dlq_topic(MODELS_TRAINED), group_id="test-observer")
    async def observe_dead(message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    @broker.subscriber(MODELS_PROMOTED, group_id="test-observer")
    async def observe_promoted(message: KafkaMessage) -> None:
        promoted.append(message.body)

    unsigned, wrong_key = _trained("run-forged-1"), _trained("run-forged-2")
    genuine = _trained("run-real", status="failed", failure_reason="out of memory")
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(broker) as test_broker,
        app.router.lifespan_context(app),
        RegistryClient("http://registry", token=TOKEN, transport=transport) as registry,
    ):
        await registry.apply_spec("churn", SPEC_YAML)
        await _forge(test_broker, unsigned, None)
        await _forge(test_broker, wrong_key, ATTACKER)
        await publish_event(test_broker, genuine, source="continuum-trainer")
        models = await registry.list_models("churn")
        runs = await registry.list_runs("churn")
        champion = await registry.get_champion("churn")

    assert [h["ce_id"] for h in dead] == [str(unsigned.event_id), str(wrong_key.event_id)]
    assert dead[0]["dlq_reason"].startswith("UnverifiedEventError: unsigned event")
    assert dead[1]["dlq_reason"].startswith("UnverifiedEventError: bad signature")
    assert {h["dlq_service"] for h in dead} == {"registry"}
    assert models == [] and champion is None and promoted == []
    assert [run.run_id for run in runs] == ["run-real"]  # the signed one was handled
