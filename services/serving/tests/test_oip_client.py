"""The Open Inference Protocol (V2) through a client no one here wrote: tritonclient[http].

Serving runs for real (uvicorn on a free port, the fake registry, a real model in a
memory store, Kafka in memory); tritonclient's synchronous client runs in a worker thread
(it blocks) while the server answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
import uvicorn
from faststream.kafka import KafkaMessage, TestKafkaBroker
from serving_testkit import (
    make_record,
    new_store,
    registry_with_champion,
    settings_for,
    wait_for,
)
from tritonclient.utils import InferenceServerException

from continuum.contracts import PredictionLogged, PredictionsLogged, decode_event
from continuum.contracts.topics import PREDICTIONS
from continuum.serving.app import app_for
from continuum.serving.bootstrap import build

T = TypeVar("T")
FEATURES = ["dep_delay", "distance", "origin", "carrier"]


@asynccontextmanager
async def serving(logged: list[PredictionLogged]) -> AsyncIterator[str]:
    """Serving on a free port with ``flights`` v1 loaded; yields its ``host:port``."""
    store = new_store()
    parts = build(settings_for(store), registry=registry_with_champion(store).client())

    @parts.broker.subscriber(PREDICTIONS, group_id="test-monitor")
    async def collect(message: KafkaMessage) -> None:
        event = decode_event(message.body)
        assert isinstance(event, PredictionsLogged)
        logged.extend(event.events())

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the OS picks a free port; uvicorn serves on this socket
    port = sock.getsockname()[1]
    config = uvicorn.Config(app_for(parts), lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    async with TestKafkaBroker(parts.broker):
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await wait_for(lambda: server.started and parts.table.synced, "serving to start")
            yield f"127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await task
            sock.close()


async def in_thread(url: str, call: Callable[[triton.InferenceServerClient], T]) -> T:
    """Run ``call`` with a fresh client in a worker thread (the client blocks)."""

    def run() -> T:
        client = triton.InferenceServerClient(url=url)
        try:
            return call(client)
        finally:
            client.close()

    return await asyncio.to_thread(run)


def feature_inputs(records: list[dict[str, Any]]) -> list[triton.InferInput]:
    """One input per feature, typed as the model's metadata says."""
    inputs = []
    for name in FEATURES:
        column = [record[name] for record in records]
        if name in ("dep_delay", "distance"):
            array = np.array(column, dtype=np.float64)
            tensor = triton.InferInput(name, [len(records)], "FP64")
        else:
            array = np.array(column, dtype=np.object_)
            tensor = triton.InferInput(name, [len(records)], "BYTES")
        tensor.set_data_from_numpy(array, binary_data=False)
        inputs.append(tensor)
    return inputs


async def test_tritonclient_gets_the_same_answers_as_the_predict_route() -> None:
    logged: list[PredictionLogged] = []
    rng = random.Random(11)
    # tritonclient sends BYTES as str(element): no nulls here, the carrier is always set.
    records = [make_record(rng, carrier=rng.choice(["UA", "AA", "DL"])) for _ in range(6)]
    async with serving(logged) as url:
        assert await in_thread(url, lambda c: c.is_server_live())
        assert await in_thread(url, lambda c: c.is_server_ready())
        assert await in_thread(url, lambda c: c.is_model_ready("flights"))
        assert not await in_thread(url, lambda c: c.is_model_ready("flights", "2"))
        assert not await in_thread(url, lambda c: c.is_model_ready("nope"))

        meta = await in_thread(url, lambda c: c.get_model_metadata("flights"))
        assert meta["name"] == "flights"
        assert meta["versions"] == ["1"]
        assert meta["inputs"] == [
            {"name": "dep_delay", "datatype": "FP64", "shape": [-1]},
            {"name": "distance", "datatype": "FP64", "shape": [-1]},
            {"name": "origin", "datatype": "BYTES", "shape": [-1]},
            {"name": "carrier", "datatype": "BYTES", "shape": [-1]},
        ]
        assert [o["name"] for o in meta["outputs"]] == ["prediction", "probabilities"]

        result = await in_thread(
            url, lambda c: c.infer("flights", feature_inputs(records), request_id="req-1")
        )
        versioned = await in_thread(
            url, lambda c: c.infer("flights", feature_inputs(records), model_version="1")
        )
        async with httpx.AsyncClient(base_url=f"http://{url}") as http:
            v1 = await http.post("/v1/pipelines/flights/predict", json={"records": records})
        assert v1.status_code == 200
        expected = v1.json()["predictions"]

        for answer in (result, versioned):
            response = answer.get_response()
            assert response["model_name"] == "flights"
            assert response["model_version"] == "1"
            assert answer.as_numpy("prediction").tolist() == [e["prediction"] for e in expected]
            probabilities = answer.as_numpy("probabilities")
            assert probabilities.shape == (6, 2)
            classes = answer.get_output("probabilities")["parameters"]["classes"].split(",")
            assert probabilities.tolist() == [
                [e["probabilities"][c] for c in classes] for e in expected
            ]
        assert result.get_response()["id"] == "req-1"

        # Every V2 prediction is logged like a /v1 one: 6 + 6 (V2) + 6 (v1).
        await wait_for(lambda: len(logged) == 18, "18 logged predictions")
        v2_request = result.get_response()["parameters"]["request_id"]
        mine = [e for e in logged if e.request_id.startswith(f"{v2_request}:")]
        assert [e.prediction for e in mine] == [e["prediction"] for e in expected]
        assert [e.features for e in mine] == [{k: r[k] for k in FEATURES} for r in records]
        assert all(e.pipeline == "flights" and e.model_version == 1 for e in mine)


async def test_tritonclient_surfaces_errors_naming_the_field() -> None:
    logged: list[PredictionLogged] = []
    records = [make_record(random.Random(5)) for _ in range(3)]
    records[1]["origin"] = "SFO"  # outside the closed set of origins
    records[1]["carrier"] = "UA"
    async with serving(logged) as url:
        with pytest.raises(InferenceServerException) as bad_value:
            await in_thread(url, lambda c: c.infer("flights", feature_inputs(records)))
        assert bad_value.value.status() == "400"
        assert "input 'origin' element 1" in bad_value.value.message()
        assert "SFO" in bad_value.value.message()

        wrong_type = triton.InferInput("origin", [1], "FP64")
        wrong_type.set_data_from_numpy(np.array([1.0]), binary_data=False)
        with pytest.raises(InferenceServerException) as bad_type:
            await in_thread(url, lambda c: c.infer("flights", [wrong_type]))
        assert bad_type.value.status() == "400"
        assert bad_type.value.message() == "input 'origin': datatype FP64, expected BYTES"

        inputs = feature_inputs(records[:1])
        with pytest.raises(InferenceServerException) as bad_version:
            await in_thread(url, lambda c: c.infer("flights", inputs, model_version="7"))
        assert bad_version.value.status() == "404"
        assert "version '7' is not served; version 1 is" in bad_version.value.message()

        # Refused requests log nothing: the one valid request after them is all there is.
        await in_thread(url, lambda c: c.infer("flights", inputs))
        await wait_for(lambda: len(logged) >= 1, "a logged prediction")
        await asyncio.sleep(0.1)
        assert len(logged) == 1
