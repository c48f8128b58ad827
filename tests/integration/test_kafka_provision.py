"""The compose ``kafka-setup`` job's code on a real secured broker that has only its admin:
``continuum.kafka.provision`` logs in with SASL/PLAIN as the super user, creates every
service's SCRAM user and the ACLs of the example pipeline, and those hold.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import TopicAuthorizationFailedError
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from continuum.contracts import topics
from continuum.kafka import KafkaSettings, build_broker
from continuum.kafka.acls import PRODUCER, USERS
from continuum.kafka.provision import main, password_variable
from continuum.localkafka import LocalKafka, RunningKafka, ScramSecurity

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


@pytest.fixture(scope="module")
def admin_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningKafka, str]]:
    admin_password = secrets.token_urlsafe(16)
    local = LocalKafka(
        tmp_path_factory.mktemp("kafka-setup"),
        security=ScramSecurity(admin_password=admin_password),
    )
    running = local.start(port=0)
    try:
        yield running, admin_password
    finally:
        local.stop(timeout=20)


async def publish_as(kafka: RunningKafka, user: str, password: str, topic: str) -> None:
    settings = KafkaSettings(
        bootstrap_servers=kafka.bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=user,
        sasl_password=SecretStr(password),
    )
    broker = build_broker(settings, service=user, registry=CollectorRegistry())
    await broker.start()
    try:
        await broker.publish(b"{}", topic=topic, key=b"flights")
    finally:
        await broker.stop()


async def test_the_setup_job_creates_the_users_and_acls(
    admin_only: tuple[RunningKafka, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kafka, admin_password = admin_only
    admin_env = {
        "CONTINUUM_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "CONTINUUM_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CONTINUUM_KAFKA_SASL_MECHANISM": "PLAIN",
        "CONTINUUM_KAFKA_SASL_USERNAME": "admin",
        "CONTINUUM_KAFKA_SASL_PASSWORD": admin_password,
    }
    for key, value in admin_env.items():
        monkeypatch.setenv(key, value)
    passwords = {user: secrets.token_urlsafe(16) for user in USERS}
    env = {password_variable(user): secret for user, secret in passwords.items()}

    # The job runs its own event loop, as in its container.
    status = await asyncio.to_thread(main, [str(EXAMPLES)], env)
    assert status == 0

    await publish_as(kafka, "trainer", passwords["trainer"], topics.MODELS_TRAINED)
    await publish_as(kafka, PRODUCER, passwords[PRODUCER], "flights.events")
    with pytest.raises(TopicAuthorizationFailedError):
        await publish_as(kafka, PRODUCER, passwords[PRODUCER], topics.MODELS_TRAINED)
    with pytest.raises(TopicAuthorizationFailedError):
        await publish_as(kafka, "ingest", passwords["ingest"], topics.MODELS_PROMOTED)

    # Run again with a new password: the user's password changes, the ACLs stay.
    passwords["trainer"] = secrets.token_urlsafe(16)
    env[password_variable("trainer")] = passwords["trainer"]
    assert await asyncio.to_thread(main, [str(EXAMPLES)], env) == 0
    await publish_as(kafka, "trainer", passwords["trainer"], topics.MODELS_TRAINED)


def test_a_missing_password_fails_the_job_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {password_variable(user): secrets.token_urlsafe(16) for user in USERS}
    del env[password_variable("monitor")]
    assert main([str(EXAMPLES)], env) == 1
    assert "CONTINUUM_KAFKA_PASSWORD_MONITOR" in capsys.readouterr().err
