"""Bounded inputs: schemathesis over the registry's OpenAPI (generated requests, valid
and invalid, never get a 5xx), then the cases it found, named.

Each operation gets a fresh app (``create_app`` on a SQLite file, Kafka in memory, one
pipeline applied so some requests reach real rows) driven in process by schemathesis'
ASGI transport. Writes carry the token, so they reach the store rather than stopping at
401. The seed is fixed and the examples bounded: a run is quick and repeatable, and a
5xx fails with the request that caused it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from continuum.contracts import MAX_VERSION
from continuum.kafka import KafkaSettings
from continuum.registry.app import create_app
from continuum.registry.settings import RegistrySettings

TOKEN = "fuzz-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
CONFIG = schemathesis.Config.from_dict({"seed": 8, "generation": {"max-examples": 40}})


def _settings(database_url: str) -> RegistrySettings:
    return RegistrySettings(
        token=TOKEN,
        database_url=database_url,
        artifact_root="memory://registry-fuzz",
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        outbox_poll_seconds=3600,
    )


def kafka_in_memory(app: FastAPI) -> FastAPI:
    """Wrap the app's lifespan in ``TestKafkaBroker``, whoever runs it."""
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: FastAPI) -> AsyncIterator[None]:
        async with TestKafkaBroker(target.state.broker), original(target):
            yield

    app.router.lifespan_context = lifespan
    return app


# The OpenAPI document does not depend on the database: read it from an app never started.
schema = schemathesis.openapi.from_dict(create_app(_settings("sqlite://")).openapi(), config=CONFIG)


@pytest.fixture
def app(tmp_path: Path, spec_yaml: str) -> Iterator[FastAPI]:
    """A started registry knowing pipeline ``churn``; stopped after the operation's run."""
    started = kafka_in_memory(create_app(_settings(f"sqlite:///{tmp_path / 'registry.db'}")))
    with asgi.get_client(started) as client:
        client.put("/v1/pipelines/churn", json={"spec_yaml": spec_yaml}, headers=AUTH)
    yield started
    asgi.shutdown_lifespans()


@schema.parametrize()
# One app per operation, shared by its examples on purpose (starting one costs ~0.1 s).
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_request_gets_a_server_error(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, headers=AUTH, checks=[not_a_server_error])


# -- the cases the fuzzer first found, and their neighbours, named ----------------------


def test_versions_beyond_the_store_are_422_not_500(app: FastAPI) -> None:
    with asgi.get_client(app) as client:
        huge = client.get("/v1/pipelines/churn/models/9223372036854775808")
        assert huge.status_code == 422
        assert huge.json()["detail"][0]["loc"] == ["path", "version"]
        assert client.get(f"/v1/pipelines/churn/specs/{MAX_VERSION + 1}").status_code == 422
        assert client.get(f"/v1/pipelines/churn/models/{MAX_VERSION}").status_code == 404
        assert client.get("/v1/pipelines/churn/specs/1").status_code == 200

        promote = client.post("/v1/pipelines/churn/champion", json={"version": 2**63}, headers=AUTH)
        assert promote.status_code == 422
        [error] = promote.json()["detail"]
        assert error["loc"] == ["body", "version"] and error["type"] == "less_than_equal"


def test_numbers_json_cannot_hold_are_422(app: FastAPI) -> None:
    with asgi.get_client(app) as client:
        infinite = client.post(
            "/v1/pipelines/churn/champion",
            data=b'{"version": 1e400}',
            headers={**AUTH, "content-type": "application/json"},
        )
    assert infinite.status_code == 422
    [error] = infinite.json()["detail"]
    assert error["loc"] == ["body", "version"] and error["input"] == "Infinity"


def test_long_strings_are_refused_and_not_echoed_whole(app: FastAPI) -> None:
    with asgi.get_client(app) as client:
        big = client.put("/v1/pipelines/churn", json={"spec_yaml": "a" * 300_000}, headers=AUTH)
        assert big.status_code == 422
        [error] = big.json()["detail"]
        assert error["loc"] == ["body", "spec_yaml"] and error["type"] == "string_too_long"
        assert len(error["input"]) <= 203
        actor = client.post("/v1/pipelines/churn/rollback", json={"actor": "x" * 201}, headers=AUTH)
        assert actor.status_code == 422 and actor.json()["detail"][0]["loc"] == ["body", "actor"]


def test_deeply_nested_bodies_and_specs_are_refused(app: FastAPI) -> None:
    with asgi.get_client(app) as client:
        nested_json = client.post(
            "/v1/pipelines/churn/champion",
            data=b"[" * 100_000,
            headers={**AUTH, "content-type": "application/json"},
        )
        assert nested_json.status_code == 400  # FastAPI: "error parsing the body"
        nested_yaml = client.put(
            "/v1/pipelines/churn", json={"spec_yaml": "a: " + "[" * 100_000}, headers=AUTH
        )
    assert nested_yaml.status_code == 422
    assert nested_yaml.json()["detail"] == [
        {"path": "$", "reason": "the YAML is nested too deeply"}
    ]


def test_a_body_over_the_limit_is_413_before_the_token_is_checked(app: FastAPI) -> None:
    with asgi.get_client(app) as client:
        huge = client.put(
            "/v1/pipelines/churn",
            data=b"x" * ((1 << 20) + 1),
            headers={"content-type": "application/json"},
        )
    assert huge.status_code == 413
    assert huge.json() == {
        "detail": "request body exceeds 1 MiB (CONTINUUM_REGISTRY_MAX_BODY_BYTES)"
    }
