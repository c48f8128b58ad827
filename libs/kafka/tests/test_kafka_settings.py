from __future__ import annotations

import pytest
from faststream.security import SASLPlaintext, SASLScram512
from pydantic import ValidationError

from continuum.kafka.security import security_from
from continuum.kafka.settings import KafkaSettings


def test_defaults_are_a_local_plaintext_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTINUUM_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    settings = KafkaSettings()
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert security_from(settings) is None


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTINUUM_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    assert KafkaSettings().bootstrap_servers == "k1:9092,k2:9092"


def test_sasl_without_credentials_names_the_missing_variables() -> None:
    with pytest.raises(ValidationError, match="CONTINUUM_KAFKA_SASL_USERNAME"):
        KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")


def test_sasl_settings_build_the_matching_security() -> None:
    plain = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password="p",  # type: ignore[arg-type]
    )
    assert isinstance(security_from(plain), SASLPlaintext)
    scram = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password="p",  # type: ignore[arg-type]
    )
    security = security_from(scram)
    assert isinstance(security, SASLScram512)
    assert security.use_ssl


def test_password_is_not_printed() -> None:
    settings = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="u",
        sasl_password="hunter2",  # type: ignore[arg-type]
    )
    assert "hunter2" not in repr(settings)
