"""The local stack's secrets: one event key per home, given to every service it starts,
and the demo's observer believing only what that key signed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord

from continuum.cli.demo.observer import LoopObserver
from continuum.cli.stack import SERVICES, LocalStack
from continuum.contracts import (
    EventKeyring,
    KafkaRecord,
    ModelArtifacts,
    ModelPromoted,
    StoredObject,
    TrainingRequested,
    encode_event,
)
from continuum.kafka import KafkaSettings, keyring_from

STORED = StoredObject(uri="file:///x", sha256="0" * 64, size_bytes=1)
ARTIFACTS = ModelArtifacts(model=STORED, reference_sample=STORED, model_card=STORED)


def test_every_service_gets_the_homes_event_key_file_not_the_shells_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTINUUM_KAFKA_EVENT_KEY", "a-key-from-another-deployment-00")
    monkeypatch.setenv("CONTINUUM_KAFKA_EVENT_KEYS_PREVIOUS", "yet-another-deployments-key-0")
    stack = LocalStack(tmp_path / "home", "127.0.0.1:9")
    environments = [stack.environment(name) for name in SERVICES]

    key_file = Path(environments[0]["CONTINUUM_KAFKA_EVENT_KEY_FILE"])
    assert key_file == (tmp_path / "home" / "event-key").resolve()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text()) >= 32
    for env in environments:
        assert env["CONTINUUM_KAFKA_EVENT_KEY_FILE"] == str(key_file)
        assert "CONTINUUM_KAFKA_EVENT_KEY" not in env
        assert "CONTINUUM_KAFKA_EVENT_KEYS_PREVIOUS" not in env

    # What a service reads from that environment verifies what the home's keyring signs.
    for name in ("CONTINUUM_KAFKA_EVENT_KEY", "CONTINUUM_KAFKA_EVENT_KEYS_PREVIOUS"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("CONTINUUM_KAFKA_EVENT_KEY_FILE", str(key_file))
    record = encode_event(TrainingRequested(pipeline="p"), "demo", keyring=stack.event_keyring)
    keyring_from(KafkaSettings()).verify(record.value, record.headers)


def test_the_key_is_made_once_per_home(tmp_path: Path) -> None:
    first = LocalStack(tmp_path / "a", "127.0.0.1:9").event_keyring
    again = LocalStack(tmp_path / "a", "127.0.0.1:9").event_keyring
    other = LocalStack(tmp_path / "b", "127.0.0.1:9").event_keyring
    assert first.signing == again.signing
    assert first.signing != other.signing


async def test_the_demo_observer_believes_only_events_signed_with_the_homes_key(
    tmp_path: Path,
) -> None:
    stack = LocalStack(tmp_path / "home", "127.0.0.1:9")
    observer = LoopObserver("127.0.0.1:9", pipeline="flights", keyring=stack.event_keyring)
    genuine, forged = (
        ModelPromoted(pipeline="flights", version=v, artifacts=ARTIFACTS, reason="gate")
        for v in (1, 99)
    )
    for event, keyring in (
        (forged, None),
        (forged, EventKeyring.of(["an-attackers-own-key-1234567890"])),
        (genuine, stack.event_keyring),
    ):
        record = encode_event(event, "continuum-registry", keyring=keyring)
        observer.consume(_consumer_record(record))
    assert [e.version for e in observer.events.promoted.values()] == [1]
    assert observer.refused == 2


def _consumer_record(record: KafkaRecord) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=record.topic,
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=record.key,
        value=record.value,
        checksum=None,
        serialized_key_size=len(record.key),
        serialized_value_size=len(record.value),
        headers=record.header_pairs(),
    )
