"""docker-compose.yml's Kafka is secured as continuum.kafka.acls plans it (read statically,
no Docker engine; tests/e2e/test_compose.py runs the setup job and the services live).

- The broker: SASL on every listener (none plain text), StandardAuthorizer, no access
  without an ACL, ``admin`` the only super user, and the admin the only PLAIN login.
- The ``kafka-setup`` job: runs ``continuum.kafka.provision`` as the admin over the
  pipeline specs that ``apply-pipelines`` applies, with a password for every user the plan
  has; so the ACLs it creates are exactly ``acl_plan`` of those specs' source topics.
- Every service logs in with SCRAM as the user named after it, its password from .env,
  and starts only after the setup job succeeded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from continuum.contracts import parse_spec_yaml
from continuum.kafka.acls import SERVICE_ACCESS, USERS
from continuum.kafka.provision import password_variable, source_topics

REPO = Path(__file__).resolve().parents[1]
SERVICES = tuple(SERVICE_ACCESS)
_VARIABLE = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):\?[^}]*\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def env_of(compose: dict[str, Any], service: str) -> dict[str, str]:
    """A service's environment with the YAML merge keys resolved (values uninterpolated)."""
    return {k: str(v) for k, v in compose["services"][service]["environment"].items()}


def dotenv_variable(value: str) -> str:
    """The .env variable a required ``${NAME:?...}`` value names."""
    match = _VARIABLE.match(value)
    assert match, f"{value!r} is not a required variable from .env"
    return match["name"]


def test_the_broker_needs_a_login_on_every_listener_and_an_acl_for_everything(
    compose: dict[str, Any],
) -> None:
    env = env_of(compose, "kafka")
    protocols = dict(
        pair.split(":") for pair in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    listeners = [entry.split("://")[0] for entry in env["KAFKA_LISTENERS"].split(",")]
    assert {protocols[name] for name in listeners} == {"SASL_PLAINTEXT"}
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith(".StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:admin"
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    # PLAIN's JAAS lines define the admin alone: no service can log in that way.
    plain = {k: v for k, v in env.items() if k.endswith("_PLAIN_SASL_JAAS_CONFIG")}
    assert plain
    for line in plain.values():
        assert re.findall(r"\buser_(\w+)=", line) == ["admin"]
    # The containers' listener is the one the services are given.
    advertised = dict(entry.split("://") for entry in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    for service in SERVICES:
        assert env_of(compose, service)["CONTINUUM_KAFKA_BOOTSTRAP_SERVERS"] in advertised.values()


def test_the_setup_job_creates_the_plan_of_the_applied_specs_as_admin(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    job, env = services["kafka-setup"], env_of(compose, "kafka-setup")
    assert job["restart"] == "no"
    assert job["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    module, *spec_paths = job["command"][2:]
    assert job["command"][:2] == ["python", "-m"] and module == "continuum.kafka.provision"
    # The specs it reads are the ones apply-pipelines applies (the same host folder).
    binds = {v.split(":")[1]: v.split(":")[0] for v in job["volumes"]}
    apply_binds = {v.split(":")[1]: v.split(":")[0] for v in services["apply-pipelines"]["volumes"]}
    applied = services["apply-pipelines"]["command"][-1]
    for path in spec_paths:
        assert path in binds and binds[path] == apply_binds[path]
        assert applied.startswith(path + "/")
    host_specs = [REPO / binds[path] for path in spec_paths]
    expected_sources = {
        parse_spec_yaml(p.read_text()).source_topic
        for p in (REPO / "examples/pipelines").glob("*.y*ml")
    }
    assert set(source_topics(host_specs)) == expected_sources == {"flights.events"}
    # Logged in as the admin over PLAIN, with the admin password the broker has.
    assert env["CONTINUUM_KAFKA_SASL_USERNAME"] == "admin"
    assert env["CONTINUUM_KAFKA_SASL_MECHANISM"] == "PLAIN"
    admin_password = dotenv_variable(env["CONTINUUM_KAFKA_SASL_PASSWORD"])
    assert admin_password == "CONTINUUM_KAFKA_ADMIN_PASSWORD"
    for line in (
        v for k, v in env_of(compose, "kafka").items() if k.endswith("PLAIN_SASL_JAAS_CONFIG")
    ):
        assert line.count("${CONTINUUM_KAFKA_ADMIN_PASSWORD:?") == 2
    # A password for every user of the plan, each from its own .env variable.
    given = {
        k: dotenv_variable(v) for k, v in env.items() if k.startswith("CONTINUUM_KAFKA_PASSWORD_")
    }
    assert set(given) == {password_variable(user) for user in USERS}
    assert all(k == v for k, v in given.items())


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_logs_in_as_its_own_user_after_the_setup(
    compose: dict[str, Any], service: str
) -> None:
    env = env_of(compose, service)
    assert env["CONTINUUM_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["CONTINUUM_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["CONTINUUM_KAFKA_SASL_USERNAME"] == service
    # The password the setup job gives this user, from the same .env variable.
    setup = env_of(compose, "kafka-setup")
    assert env["CONTINUUM_KAFKA_SASL_PASSWORD"] == setup[password_variable(service)]
    depends = compose["services"][service]["depends_on"]
    assert depends["kafka-setup"] == {"condition": "service_completed_successfully"}


def test_env_example_names_every_kafka_password_empty() -> None:
    example = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    wanted = {"CONTINUUM_KAFKA_ADMIN_PASSWORD", *(password_variable(u) for u in USERS)}
    assert wanted <= set(example)
    assert all(example[name] == "" for name in wanted)
