"""The local stack's secrets: one event key per home, given to every service it starts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from continuum.cli.stack import SERVICES, LocalStack
from continuum.contracts import TrainingRequested, encode_event
from continuum.kafka import KafkaSettings, keyring_from


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
