"""The Open Inference Protocol (V2) routes: tensors to records, the protocol's errors."""

from __future__ import annotations

import random
from typing import Any

from faststream.kafka import KafkaMessage
from serving_testkit import (
    World,
    make_record,
    new_store,
    registry_with_champion,
    running,
    wait_for,
)

from continuum.contracts import PredictionLogged, PredictionsLogged, decode_event
from continuum.contracts.topics import PREDICTIONS
from continuum.registry_client.testing import FakeRegistry
from continuum.serving.bootstrap import ServingParts

NUMERIC = ("dep_delay", "distance")
FEATURES = ("dep_delay", "distance", "origin", "carrier")


def tensor(name: str, data: list[Any], datatype: str | None = None, **extra: Any) -> dict[str, Any]:
    if datatype is None:
        datatype = "FP64" if name in NUMERIC else "BYTES"
    return {"name": name, "datatype": datatype, "shape": [len(data)], "data": data} | extra


def inputs_of(records: list[dict[str, Any]], names: tuple[str, ...] = FEATURES) -> list[Any]:
    return [tensor(name, [r[name] for r in records]) for name in names]


async def infer(world: World, body: dict[str, Any], path: str = "flights/infer") -> Any:
    return await world.client.post(f"/v2/models/{path}", json=body)


def _collect(into: list[PredictionLogged]) -> Any:
    def setup(parts: ServingParts) -> None:
        @parts.broker.subscriber(PREDICTIONS, group_id="test-monitor")
        async def collect(message: KafkaMessage) -> None:
            event = decode_event(message.body)
            assert isinstance(event, PredictionsLogged)
            into.extend(event.events())

    return setup


async def test_ids_times_nulls_and_nested_rows_reach_the_log() -> None:
    store = new_store()
    logged: list[PredictionLogged] = []
    async with running(registry_with_champion(store), store, setup=_collect(logged)) as world:
        records = [make_record(random.Random(i)) for i in range(3)]
        records[0]["carrier"] = None  # nullable: a JSON null is an absent value
        body = {
            "inputs": [
                *inputs_of(records, ("dep_delay", "distance", "carrier")),
                # [n, 1] with nested rows, as a column vector is often sent
                {
                    "name": "origin",
                    "datatype": "BYTES",
                    "shape": [3, 1],
                    "data": [[r["origin"]] for r in records],
                },
                tensor("flight_id", [r["flight_id"] for r in records]),
                tensor("time_hour", ["2013-06-01T12:30:00Z"] * 3),
            ],
            "outputs": [{"name": "prediction"}],
        }
        response = await infer(world, body)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert [o["name"] for o in answer["outputs"]] == ["prediction"]
        v1 = (await world.predict(records)).json()["predictions"]
        assert answer["outputs"][0]["data"] == [p["prediction"] for p in v1]
        assert answer["outputs"][0]["shape"] == [3]
        assert answer["id"] == answer["parameters"]["request_id"]  # none given: ours

        await wait_for(lambda: len(logged) == 6, "six logged predictions")
        mine = [e for e in logged if e.request_id.startswith(answer["id"] + ":")]
        assert [e.entity_id for e in mine] == [r["flight_id"] for r in records]
        assert {e.event_time.isoformat() for e in mine if e.event_time} == {
            "2013-06-01T12:30:00+00:00"
        }
        assert mine[0].features["carrier"] is None


async def test_protocol_errors_name_the_input_and_reason() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        records = [make_record(random.Random(i), carrier="UA") for i in range(2)]
        good = inputs_of(records)
        cases: list[tuple[dict[str, Any], str]] = [
            ({"inputs": [*good, tensor("colour", ["red", "blue"])]}, "input 'colour' is not an"),
            ({"inputs": [*good, good[0]]}, "input 'dep_delay' is given twice"),
            (
                {"inputs": [*good[:2], tensor("origin", ["EWR"]), good[3]]},
                "inputs have different numbers of rows",
            ),
            (
                {"inputs": [{**good[0], "shape": [3]}, *good[1:]]},
                "input 'dep_delay': 2 elements for shape [3]",
            ),
            (
                {"inputs": [{**good[0], "shape": [1, 2]}, *good[1:]]},
                "input 'dep_delay': shape [1, 2], expected [n] or [n, 1]",
            ),
            (
                {"inputs": [tensor("dep_delay", ["fast", 1.0]), *good[1:]]},
                "input 'dep_delay' element 0: expected a number for datatype FP64, got 'fast'",
            ),
            (
                {"inputs": [tensor("distance", [1, 2], "BOOL"), good[0], *good[2:]]},
                "input 'distance': datatype BOOL, expected one of FP16",
            ),
            (
                {"inputs": [tensor("dep_delay", [-500.0, 1.0]), *good[1:]]},
                "input 'dep_delay' element 0:",  # below the spec's minimum: the contract
            ),
            ({"inputs": good[:2] + good[3:]}, "input 'origin' element 0:"),  # not nullable
            ({"inputs": good, "outputs": [{"name": "logits"}]}, "output 'logits' is not an"),
            ({"inputs": []}, "invalid inference request: inputs:"),
            (
                {"inputs": [{**good[0], "parameters": {"binary_data_size": 16}}, *good[1:]]},
                "binary tensor data is not supported",
            ),
        ]
        for body, message in cases:
            response = await infer(world, body)
            assert response.status_code == 400, (body, response.text)
            assert response.headers["content-type"] == "application/json"
            assert message in response.json()["error"], (message, response.json())

        raw = await world.client.post(
            "/v2/models/flights/infer",
            content=b'{"inputs": [',
            headers={"content-type": "application/json"},
        )
        assert raw.status_code == 400
        assert raw.json()["error"].startswith("invalid inference request")
        binary = await world.client.post(
            "/v2/models/flights/infer",
            content=b"{}",
            headers={"inference-header-content-length": "2"},
        )
        assert binary.status_code == 400
        assert "binary tensor data is not supported" in binary.json()["error"]

        missing = await infer(world, {"inputs": good}, "nope/infer")
        assert missing.status_code == 404
        assert missing.json() == {"error": "model 'nope' not found"}
        stale = await infer(world, {"inputs": good}, "flights/versions/2/infer")
        assert stale.status_code == 404
        assert (await world.client.get("/v2/models/flights/versions/2")).status_code == 404
        assert (await world.client.get("/v2/models/nope")).json()["error"]
        status = world.metric("continuum_serving_requests_total", pipeline="flights", status="400")
        assert status == len(cases) + 2


async def test_health_before_any_model_and_server_metadata() -> None:
    store = new_store()
    registry = registry_with_champion(store)
    registry.champions.clear()  # flights is known but has no champion yet
    assert isinstance(registry, FakeRegistry)
    async with running(registry, store) as world:
        client = world.client
        assert (await client.get("/v2/health/live")).status_code == 200
        assert (await client.get("/v2/health/ready")).status_code == 200
        assert (await client.get("/v2/models/flights/ready")).status_code == 400
        assert (await client.get("/v2/models/nope/ready")).status_code == 404
        metadata = await client.get("/v2/models/flights")
        assert metadata.status_code == 503
        assert "no version loaded" in metadata.json()["error"]
        server = (await client.get("/v2")).json()
        assert server["name"] == "continuum-serving"
        assert server["extensions"] == []
