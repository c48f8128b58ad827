"""Serving throughput and latency, side by side with a bare FastAPI + sklearn baseline.

    uv run python bench/serving_bench.py [--requests 2000] [--concurrency 8]

Each server runs in its own subprocess (uvicorn, uvloop + httptools, no access log) on a
free port; this process is the httpx client. Variants:

- ``serving``: ``continuum.serving`` as configured by default (micro-batching, predict
  in a worker thread);
- ``serving-inline``: the same, predict on the event loop;
- ``serving-nobatch``: the same, one request per pipeline call (``batch_max_rows=1``);
- ``baseline``: one FastAPI route, body parsed by FastAPI (``list[dict]``), a DataFrame,
  ``predict_proba`` on the same fitted pipeline, no validation, no logging.

The serving app runs with a fake registry (in memory) and Kafka replaced by a null sink:
prediction events are built and encoded but not sent. A step-by-step breakdown of one
request (parse, check, frame + predict, event build) is timed in-process too.
No assertions on time: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

SPEC: dict[str, Any] = {
    "name": "flights",
    "source_topic": "flights.records",
    "task": "binary_classification",
    "schema": {
        "features": [
            {"name": "dep_delay", "type": "numeric", "min": -120, "max": 3000},
            {"name": "distance", "type": "numeric"},
            {"name": "hour", "type": "numeric", "min": 0, "max": 23},
            {"name": "origin", "type": "categorical", "values": ["EWR", "JFK", "LGA"]},
            {"name": "carrier", "type": "categorical"},
        ],
        "target": {"name": "late"},
        "event_time": "time_hour",
        "entity_id": "flight_id",
    },
    "model": {"estimator": "LogisticRegression", "params": {"max_iter": 300}},
    "promotion": {"metric": "roc_auc"},
}


def make_record(rng: random.Random) -> dict[str, Any]:
    return {
        "dep_delay": round(rng.uniform(-20, 200), 1),
        "distance": round(rng.uniform(100, 2500), 1),
        "hour": rng.randrange(5, 23),
        "origin": rng.choice(["EWR", "JFK", "LGA"]),
        "carrier": rng.choice(["UA", "AA", "B6", "DL", "EV", "MQ"]),
        "flight_id": f"f-{rng.randrange(10**6)}",
        "time_hour": "2013-03-01T05:00:00Z",
    }


JSON_HEADERS = {"content-type": "application/json"}


class BaselineBody(BaseModel):
    """The baseline's body, parsed by FastAPI (module level: FastAPI resolves it by name)."""

    records: list[dict[str, Any]]


# -- server side (runs in the subprocess) ----------------------------------------------
def _train(artifact_root: str) -> tuple[Any, Any, Any]:
    from continuum.contracts import ModelArtifacts, PipelineSpec
    from continuum.modelkit import (
        build_pipeline,
        build_reference_sample,
        dump_model,
        frame_to_parquet,
        labels,
        records_to_frame,
    )
    from continuum.storage import open_store

    spec = PipelineSpec.model_validate(SPEC)
    rng = random.Random(0)  # noqa: S311
    records = [make_record(rng) for _ in range(5000)]
    for r in records:
        r["late"] = int(r["dep_delay"] + rng.gauss(0, 25) > 30)
    frame = records_to_frame(spec, records)
    pipeline = build_pipeline(spec).fit(frame, labels(spec, records))
    store = open_store(artifact_root)
    artifacts = ModelArtifacts(
        model=store.put("flights/v1/model.skops", dump_model(pipeline)),
        reference_sample=store.put(
            "flights/v1/reference.parquet",
            frame_to_parquet(build_reference_sample(spec, pipeline, frame)),
        ),
        model_card=store.put("flights/v1/model_card.json", b"{}"),
    )
    return spec, pipeline, artifacts


def _registry_transport(spec: Any, artifacts: Any) -> Any:
    from continuum.registry_client import ModelVersionRecord, PipelineSpecRecord, PipelineSummary

    now = datetime.now(UTC)
    model = ModelVersionRecord(
        pipeline="flights", version=1, run_id="r1", trigger="manual", spec_version=1,
        decision="promoted", decision_reason="bench", artifacts=artifacts,
        correlation_id="00000000-0000-0000-0000-000000000001", created_at=now, is_champion=True,
    )  # fmt: skip
    spec_record = PipelineSpecRecord(
        name="flights", spec_version=1, spec_sha256=spec.sha256(), spec=spec, created_at=now
    )
    summary = PipelineSummary(
        name="flights", spec_version=1, source_topic=spec.source_topic, task=spec.task,
        champion_version=1, model_versions=1,
    )  # fmt: skip

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/pipelines":
            return httpx.Response(200, json=[summary.model_dump(mode="json")])
        if path.endswith("/champion") or path.endswith("/models/1"):
            return httpx.Response(200, content=model.model_dump_json())
        if path.endswith("/specs/1") or path == "/v1/pipelines/flights":
            return httpx.Response(200, content=spec_record.model_dump_json(by_alias=True))
        return httpx.Response(404, json={"detail": "not found"})

    return httpx.MockTransport(handle)


def _null_kafka(broker: Any) -> None:
    """No Kafka in the bench: connect, ping and publish do nothing (events are still built)."""

    async def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    async def yes(*args: Any, **kwargs: Any) -> bool:
        return True

    broker.start = nothing
    broker.stop = nothing
    broker.publish = nothing
    broker.ping = yes


def _baseline_app(pipeline: Any) -> Any:
    import pandas as pd
    from fastapi import FastAPI

    app = FastAPI()
    columns = [f["name"] for f in SPEC["schema"]["features"]]

    @app.post("/v1/pipelines/flights/predict")
    def predict(
        body: BaselineBody,
    ) -> dict[str, Any]:  # FastAPI runs a sync route in its threadpool
        frame = pd.DataFrame(body.records, columns=columns)
        proba = pipeline.predict_proba(frame)
        return {
            "predictions": [
                {"prediction": int(p[1] >= 0.5), "probabilities": {"0": p[0], "1": p[1]}}
                for p in proba.tolist()
            ]
        }

    return app


def serve(variant: str, port: int) -> None:
    import uvicorn

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).as_uri()
        spec, pipeline, artifacts = _train(root)
        if variant == "baseline":
            app = _baseline_app(pipeline)
        else:
            from continuum.kafka import KafkaSettings
            from continuum.registry_client import RegistryClient
            from continuum.serving.app import app_for
            from continuum.serving.bootstrap import build
            from continuum.serving.settings import ServingSettings

            settings = ServingSettings(
                # Kafka is nulled out below; the key only lets the broker be built.
                kafka=KafkaSettings(
                    bootstrap_servers="127.0.0.1:1", event_key=secrets.token_urlsafe(32)
                ),
                artifact_root=root,
                reconcile_seconds=0,
                inline_max_rows=1000 if variant == "serving-inline" else 0,
                batch_max_rows=1 if variant == "serving-nobatch" else 1000,
            )
            registry = RegistryClient(
                "http://registry.bench", transport=_registry_transport(spec, artifacts)
            )
            parts = build(settings, registry=registry)
            _null_kafka(parts.broker)
            app = app_for(parts)
        uvicorn.run(
            app, host="127.0.0.1", port=port, access_log=False, log_level="warning",
            loop="uvloop", http="httptools",
        )  # fmt: skip


# -- client side ------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_ready(client: httpx.AsyncClient, body: bytes) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            response = await client.post(
                "/v1/pipelines/flights/predict", content=body, headers=JSON_HEADERS
            )
            if response.status_code == 200:
                return
            if response.status_code != 503:
                raise RuntimeError(f"server answered {response.status_code}: {response.text}")
        except httpx.TransportError:
            pass  # not listening yet
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not become ready")


async def _load(
    client: httpx.AsyncClient, bodies: list[bytes], concurrency: int
) -> tuple[float, list[float], int]:
    latencies: list[float] = []
    failures = 0
    queue = list(reversed(bodies))

    async def worker() -> None:
        nonlocal failures
        while queue:
            body = queue.pop()
            started = time.perf_counter()
            response = await client.post(
                "/v1/pipelines/flights/predict",
                content=body,
                headers=JSON_HEADERS,
            )
            latencies.append(time.perf_counter() - started)
            failures += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, failures


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run_variant(variant: str, requests: int, concurrency: int) -> list[dict[str, Any]]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, before the timed part
        [sys.executable, __file__, "--serve", variant, "--port", str(port)],
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    rows = []
    try:
        rng = random.Random(42)  # noqa: S311
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:
            await _wait_ready(client, json.dumps({"records": [make_record(rng)]}).encode())
            for rows_per_request in (1, 100):
                bodies = [
                    json.dumps(
                        {"records": [make_record(rng) for _ in range(rows_per_request)]}
                    ).encode()
                    for _ in range(requests)
                ]
                await _load(client, bodies[: max(50, requests // 10)], concurrency)  # warm-up
                wall, latencies, failures = await _load(client, bodies, concurrency)
                rows.append(
                    {
                        "variant": variant,
                        "rows": rows_per_request,
                        "req_s": requests / wall,
                        "rows_s": requests * rows_per_request / wall,
                        "p50_ms": _pct(latencies, 0.50),
                        "p99_ms": _pct(latencies, 0.99),
                        "failures": failures,
                    }
                )
    finally:
        process.terminate()
        process.wait(timeout=30)
    return rows


def _timed(fn: Any, repeat: int) -> float:
    fn()
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat * 1e6


def _steps(spec: Any, pipeline: Any, model: Any, n: int, rng: random.Random) -> dict[str, Any]:
    from continuum.contracts import encode_event, utc_now
    from continuum.modelkit import records_to_frame
    from continuum.serving.inference import predict_records
    from continuum.serving.prediction_log import LoggedPrediction, to_event
    from continuum.serving.validation import parse_body

    records = [make_record(rng) for _ in range(n)]
    body = json.dumps({"records": records}).encode()
    parsed = parse_body(body, 1000)
    frame = records_to_frame(spec, parsed)
    result = predict_records(model.model, parsed)
    probabilities = result.probabilities or [None] * n
    items = [
        LoggedPrediction(model, f"r:{i}", parsed[i], result.labels[i], probabilities[i],
                         None, None, utc_now())
        for i in range(n)
    ]  # fmt: skip
    return {
        "parse body (model_validate_json)": lambda: parse_body(body, 1000),
        "check records against the spec": lambda: model.validator.check(parsed),
        "records_to_frame": lambda: records_to_frame(spec, parsed),
        "pipeline.predict_proba": lambda: pipeline.predict_proba(frame),
        "LoadedModel.predict (coerce, 2 passes)": lambda: model.model.predict(frame),
        "serving predict_records (frame, 1 pass)": lambda: predict_records(model.model, parsed),
        "build PredictionLogged events": lambda: [to_event(i) for i in items],
        "build + encode_event": lambda: [encode_event(to_event(i), "s") for i in items],
    }


def breakdown() -> None:
    """Time each step of one request in-process (no HTTP), for 1 and 100 rows."""
    from uuid import uuid4

    from continuum.contracts import utc_now
    from continuum.modelkit import LoadedModel
    from continuum.serving.inference import MicroBatcher
    from continuum.serving.models import ServingModel
    from continuum.serving.validation import RecordValidator

    with tempfile.TemporaryDirectory() as tmp:
        spec, pipeline, artifacts = _train(Path(tmp).as_uri())
    loaded = LoadedModel(pipeline=pipeline, spec=spec, version=1)
    model = ServingModel(
        pipeline="flights", version=1, spec_version=1, model=loaded,
        validator=RecordValidator(spec), artifacts=artifacts, correlation_id=uuid4(),
        loaded_at=utc_now(), batcher=MicroBatcher(loaded, max_rows=1000, inline_max_rows=0),
    )  # fmt: skip
    rng = random.Random(1)  # noqa: S311
    results: dict[str, list[float]] = {}
    for n in (1, 100):
        for name, fn in _steps(spec, pipeline, model, n, rng).items():
            results.setdefault(name, []).append(_timed(fn, 200 if n == 1 else 50))
    print("\nIn-process cost of one request's steps (microseconds):")
    print(f"{'step':<44}{'1 row':>10}{'100 rows':>10}")
    for name, (one, hundred) in results.items():
        print(f"{name:<44}{one:>10.0f}{hundred:>10.0f}")


async def main_async(args: argparse.Namespace) -> None:
    rows: list[dict[str, Any]] = []
    for variant in args.variants:
        rows += await run_variant(variant, args.requests, args.concurrency)
    print(
        f"\n{args.requests} requests per size, {args.concurrency} concurrent clients, "
        f"{os.cpu_count()} CPUs (server and client share them)"
    )
    header = f"{'variant':<16}{'rows/req':>9}{'req/s':>9}{'rows/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    print(header + f"{'fail':>6}")
    for r in rows:
        print(
            f"{r['variant']:<16}{r['rows']:>9}{r['req_s']:>9.0f}{r['rows_s']:>10.0f}"
            f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['failures']:>6}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["serving", "serving-inline", "serving-nobatch", "baseline"],
    )
    parser.add_argument("--no-breakdown", action="store_true")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    if not args.no_breakdown:
        breakdown()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
