"""schemathesis over serving's OpenAPI: generated requests, valid and invalid, never get
a 5xx.

One app per operation (``build`` + ``app_for`` as the other tests wire it: a real model
for ``flights`` from the fake registry, Kafka in memory), synced before the first
request, driven in process by schemathesis' ASGI transport. Predictions all go to
``flights``, so generated records reach the record checks and the model. The seed is
fixed and the examples bounded: a run is quick and repeatable.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from faststream.kafka import TestKafkaBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from serving_testkit import make_record, new_store, registry_with_champion, settings_for

from continuum.serving.app import app_for
from continuum.serving.bootstrap import ServingParts, build

CONFIG = schemathesis.Config.from_dict(
    {"seed": 8, "generation": {"max-examples": 60}, "parameters": {"path.name": "flights"}}
)


def _serve(parts: ServingParts) -> FastAPI:
    """The app, its lifespan wrapped in ``TestKafkaBroker`` whoever runs it."""
    app = app_for(parts)
    original = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: FastAPI) -> AsyncIterator[None]:
        async with TestKafkaBroker(parts.broker), original(target):
            yield

    app.router.lifespan_context = lifespan
    return app


# The OpenAPI document needs no model: read it from an app never started.
schema = schemathesis.openapi.from_dict(
    app_for(build(settings_for(new_store()))).openapi(), config=CONFIG
)


@pytest.fixture
def app() -> Iterator[FastAPI]:
    """A started serving app whose registry sync is done (``flights`` v1 loaded)."""
    store = new_store()
    parts = build(settings_for(store), registry=registry_with_champion(store).client())
    started = _serve(parts)
    with asgi.get_client(started):
        deadline = time.monotonic() + 30
        while not parts.table.synced:
            assert time.monotonic() < deadline, "the registry sync never finished"
            time.sleep(0.01)
    yield started
    asgi.shutdown_lifespans()


@schema.parametrize()
# One app per operation, shared by its examples on purpose (starting one loads a model).
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_request_gets_a_server_error(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(app=app, checks=[not_a_server_error])


# -- records with hostile values, through the real model ---------------------------------

FIELDS = ["dep_delay", "distance", "origin", "carrier", "flight_id", "time_hour", "other"]
RAW_TOKENS = ["1e400", "-1e400", "NaN", "Infinity", "1e-400", "1" + "0" * 400, "[[[[]]]]"]
raw_values = st.one_of(
    st.sampled_from(RAW_TOKENS),
    st.builds(
        json.dumps,
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(min_value=-(10**30), max_value=10**30),
            st.floats(allow_nan=False, allow_infinity=False),
            st.text(max_size=30),
            st.sampled_from(["EWR", "2013-01-01T05:00:00Z", "x" * 5000]),
            st.lists(st.integers(), max_size=3),
        ),
    ),
)
records = st.lists(st.dictionaries(st.sampled_from(FIELDS), raw_values), min_size=1, max_size=5)


def _strict_json(text: str) -> Any:
    def refuse(token: str) -> Any:
        raise AssertionError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(overrides=records)
def test_hostile_values_get_200_or_422_in_json(
    app: FastAPI, overrides: list[dict[str, str]]
) -> None:
    rows = []
    for override in overrides:
        fields = {k: json.dumps(v) for k, v in make_record().items()} | override
        rows.append("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")
    body = '{"records": [' + ", ".join(rows) + "]}"
    with asgi.get_client(app) as client:
        response = client.post(
            "/v1/pipelines/flights/predict",
            data=body.encode(),
            headers={"content-type": "application/json"},
        )
    assert response.status_code in (200, 422), response.text
    answer = _strict_json(response.text)
    if response.status_code == 200:
        assert len(answer["predictions"]) == len(overrides)
    else:
        assert all(len(str(error.get("input", ""))) <= 203 for error in answer["detail"])
