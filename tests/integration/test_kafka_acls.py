"""SASL/SCRAM and ACLs on a real broker, configured as docker-compose.yml configures Kafka:
one SCRAM user per service, ACLs from ``continuum.kafka.acls``, no anonymous access.

One dedicated secured broker (the session broker stays plain text) on free ports.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from continuum.contracts import topics
from continuum.kafka import KafkaSettings, build_broker
from continuum.kafka.acls import PRODUCER, USERS, acl_plan
from continuum.localkafka import LocalKafka, RunningKafka, ScramSecurity

pytestmark = pytest.mark.integration

SOURCE = "flights.events"


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningKafka, ScramSecurity]]:
    security = ScramSecurity(
        admin_password=secrets.token_urlsafe(16),
        users={user: secrets.token_urlsafe(16) for user in USERS},
        acls=acl_plan([SOURCE]),
    )
    local = LocalKafka(tmp_path_factory.mktemp("kafka-scram"), security=security)
    running = local.start(port=0)
    try:
        yield running, security
    finally:
        local.stop(timeout=20)


def settings_of(kafka: RunningKafka, security: ScramSecurity, user: str) -> KafkaSettings:
    """A service's Kafka settings as compose gives them (CONTINUUM_KAFKA_SASL_*)."""
    return KafkaSettings(
        bootstrap_servers=kafka.bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=user,
        sasl_password=SecretStr(security.users[user]),
    )


async def publish_as(kafka: RunningKafka, security: ScramSecurity, user: str, topic: str) -> None:
    broker = build_broker(
        settings_of(kafka, security, user), service=user, registry=CollectorRegistry()
    )
    await broker.start()
    try:
        await broker.publish(b"{}", topic=topic, key=b"flights")
    finally:
        await broker.stop()


async def test_a_service_writes_its_own_topic_with_its_credentials(
    secured: tuple[RunningKafka, ScramSecurity],
) -> None:
    kafka, security = secured
    await publish_as(kafka, security, "trainer", topics.MODELS_TRAINED)
    await publish_as(kafka, security, PRODUCER, SOURCE)


async def test_only_the_trainer_may_write_models_trained(
    secured: tuple[RunningKafka, ScramSecurity],
) -> None:
    kafka, security = secured
    for user in ("ingest", "registry", PRODUCER):
        with pytest.raises(TopicAuthorizationFailedError):
            await publish_as(kafka, security, user, topics.MODELS_TRAINED)


async def test_the_source_producer_cannot_forge_a_promotion(
    secured: tuple[RunningKafka, ScramSecurity],
) -> None:
    kafka, security = secured
    with pytest.raises(TopicAuthorizationFailedError):
        await publish_as(kafka, security, PRODUCER, topics.MODELS_PROMOTED)


async def test_a_client_without_credentials_cannot_connect(
    secured: tuple[RunningKafka, ScramSecurity],
) -> None:
    kafka, _ = secured
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()


async def test_a_wrong_password_cannot_connect(
    secured: tuple[RunningKafka, ScramSecurity],
) -> None:
    kafka, _ = secured
    wrong = ScramSecurity(admin_password="x", users={"trainer": "not-the-password"})
    with pytest.raises(Exception, match=r"(?i)authentication|sasl|bootstrap|connect"):
        await publish_as(kafka, wrong, "trainer", topics.MODELS_TRAINED)
