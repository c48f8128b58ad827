"""The servers :mod:`bench.serving_bench` measures, each run in its own pinned subprocess.

    python -m bench.serving_servers VARIANT --port P [--kafka HOST:PORT] [--cpu N]

VARIANT is one of:

- ``continuum``: ``continuum.serving`` as deployed (validation, micro-batching, metrics,
  every prediction logged to Kafka at ``--kafka``), with an in-memory registry that
  names the model champion;
- ``continuum-views``: the same with a feature view (``carrier_recent``: the carrier's
  delay rate and flight count), read per micro-batch from an SQLite online store filled
  at start (requests send the carrier only; one carrier is never in the store);
- ``continuum-canary`` / ``continuum-shadow``: the same as ``continuum`` during a rollout
  of a second model (trained on other records) against it: a canary at 50% of entities,
  or a shadow predicting a copy of every request;
- ``baseline``: the hand-written FastAPI server: one sync route (FastAPI's threadpool),
  the body parsed by FastAPI (``list[dict]``), a pandas DataFrame per request,
  ``predict_proba`` on the same fitted pipeline; no validation, no metrics, no logging.

Every variant serves the same model: a flights-like pipeline (numeric and categorical
features, ``LogisticRegression``) fitted on synthetic records at start (the rollout
variants a second one, fitted on other records, beside it).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import tempfile
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


VIEW: dict[str, Any] = {
    "name": "carrier_recent",
    "entity": "carrier",
    "window_events": 200,
    "features": [
        {"name": "carrier_rate", "function": "mean", "column": "late", "default": 0.2},
        {"name": "carrier_flights", "function": "count"},
    ],
}
"""The view of ``continuum-views`` (and :mod:`bench.feature_lookup_bench`)."""

STORED_CARRIERS = {"UA": 0.31, "AA": 0.18, "B6": 0.27, "DL": 0.15, "EV": 0.35}
"""Each carrier's delay rate in the online store; ``MQ`` is left out (the default path)."""


def make_record(rng: random.Random) -> dict[str, Any]:
    """One flights-like request record (features, entity id, event time)."""
    return {
        "dep_delay": round(rng.uniform(-20, 200), 1),
        "distance": round(rng.uniform(100, 2500), 1),
        "hour": rng.randrange(5, 23),
        "origin": rng.choice(["EWR", "JFK", "LGA"]),
        "carrier": rng.choice(["UA", "AA", "B6", "DL", "EV", "MQ"]),
        "flight_id": f"f-{rng.randrange(10**6)}",
        "time_hour": "2013-03-01T05:00:00Z",
    }


class BaselineBody(BaseModel):
    """The baseline's body, parsed by FastAPI (module level: FastAPI resolves it by name)."""

    records: list[dict[str, Any]]


def _train(artifact_root: str, *, views: bool = False, version: int = 1) -> tuple[Any, Any, Any]:
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

    spec = PipelineSpec.model_validate(SPEC | ({"feature_views": [VIEW]} if views else {}))
    rng = random.Random(version - 1)  # noqa: S311  (another version: other records)
    records = [make_record(rng) for _ in range(5000)]
    for r in records:
        r["late"] = int(r["dep_delay"] + rng.gauss(0, 25) > 30)
        if views:
            r["carrier_rate"] = STORED_CARRIERS.get(r["carrier"])
            r["carrier_flights"] = 200.0 if r["carrier"] in STORED_CARRIERS else 0.0
    frame = records_to_frame(spec, records)
    pipeline = build_pipeline(spec).fit(frame, labels(spec, records))
    store = open_store(artifact_root)
    artifacts = ModelArtifacts(
        model=store.put(f"flights/v{version}/model.skops", dump_model(pipeline)),
        reference_sample=store.put(
            f"flights/v{version}/reference.parquet",
            frame_to_parquet(build_reference_sample(spec, pipeline, frame)),
        ),
        model_card=store.put(f"flights/v{version}/model_card.json", b"{}"),
    )
    return spec, pipeline, artifacts


def _registry_transport(
    spec: Any, artifacts: Any, rollout: tuple[str, Any] | None = None
) -> httpx.MockTransport:
    """The registry's read API for the bench; ``rollout``: (strategy, version 2's artifacts)."""
    from continuum.registry_client import (
        ModelVersionRecord,
        PipelineSpecRecord,
        PipelineSummary,
        RolloutRecord,
    )

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

    candidate = rollout_record = None
    if rollout is not None:
        strategy, candidate_artifacts = rollout
        candidate = model.model_copy(
            update={"version": 2, "artifacts": candidate_artifacts, "is_champion": False}
        )
        rollout_record = RolloutRecord(
            pipeline="flights", rollout_id="bench-rollout", strategy=strategy,
            champion_version=1, candidate_version=2, step=0,
            traffic_share=0.5 if strategy == "canary" else 0.0, state="started",
            started_at=now, step_started_at=now, updated_at=now,
        )  # fmt: skip

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if candidate is not None and path.endswith("/models/2"):
            return httpx.Response(200, content=candidate.model_dump_json())
        if rollout_record is not None and path.endswith("/rollout"):
            return httpx.Response(200, content=rollout_record.model_dump_json())
        if path == "/v1/pipelines":
            return httpx.Response(200, json=[summary.model_dump(mode="json")])
        if path.endswith("/champion") or path.endswith("/models/1"):
            return httpx.Response(200, content=model.model_dump_json())
        if path.endswith("/specs/1") or path == "/v1/pipelines/flights":
            return httpx.Response(200, content=spec_record.model_dump_json(by_alias=True))
        return httpx.Response(404, json={"detail": "not found"})

    return httpx.MockTransport(handle)


def _baseline_app(pipeline: Any) -> Any:
    import pandas as pd
    from fastapi import FastAPI

    app = FastAPI()
    columns = [f["name"] for f in SPEC["schema"]["features"]]

    @app.post("/v1/pipelines/flights/predict")
    def predict(body: BaselineBody) -> dict[str, Any]:  # sync: FastAPI's threadpool
        frame = pd.DataFrame(body.records, columns=columns)
        proba = pipeline.predict_proba(frame)
        return {
            "predictions": [
                {"prediction": int(p[1] >= 0.5), "probabilities": {"0": p[0], "1": p[1]}}
                for p in proba.tolist()
            ]
        }

    return app


def fill_online_store(uri: str) -> None:
    """Write :data:`STORED_CARRIERS` to the online store as ingest would."""
    from continuum.featurestore import FeatureRow, open_online_store, view_key

    store = open_online_store(uri)
    now = datetime.now(UTC)
    rows = [
        FeatureRow(c, now, {"carrier_rate": rate, "carrier_flights": 200.0})
        for c, rate in STORED_CARRIERS.items()
    ]
    store.write(view_key("flights", VIEW["name"]), rows)
    store.close()


def _continuum_app(
    root: str,
    spec: Any,
    artifacts: Any,
    kafka: str,
    online_store_uri: str | None = None,
    rollout: tuple[str, Any] | None = None,
) -> Any:
    from continuum.kafka import KafkaSettings
    from continuum.registry_client import RegistryClient
    from continuum.serving.app import app_for
    from continuum.serving.bootstrap import build
    from continuum.serving.settings import ServingSettings

    settings = ServingSettings(
        kafka=KafkaSettings(bootstrap_servers=kafka, event_key=secrets.token_urlsafe(32)),
        artifact_root=root,
        reconcile_seconds=0,
        **({"online_store_uri": online_store_uri} if online_store_uri else {}),
    )
    transport = _registry_transport(spec, artifacts, rollout)
    registry = RegistryClient("http://registry.bench", transport=transport)
    return app_for(build(settings, registry=registry))


def serve(variant: str, port: int, kafka: str | None) -> None:
    """Train the model, then serve ``variant`` on ``port`` until terminated."""
    import uvicorn

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).as_uri()
        views = variant == "continuum-views"
        spec, pipeline, artifacts = _train(root, views=views)
        if variant == "baseline":
            app = _baseline_app(pipeline)
        else:
            if kafka is None:
                raise SystemExit("continuum needs --kafka")
            online = f"sqlite:///{Path(tmp) / 'online.db'}" if views else None
            if online:
                fill_online_store(online)
            rollout = None
            if variant in ("continuum-canary", "continuum-shadow"):
                rollout = (variant.removeprefix("continuum-"), _train(root, version=2)[2])
            app = _continuum_app(root, spec, artifacts, kafka, online, rollout)
        uvicorn.run(
            app, host="127.0.0.1", port=port, access_log=False, log_level="warning",
            loop="uvloop", http="httptools",
        )  # fmt: skip


VARIANTS = ["continuum", "continuum-views", "continuum-canary", "continuum-shadow", "baseline"]


def main() -> None:
    parser = argparse.ArgumentParser(description="One server of the serving benchmark.")
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kafka", help="bootstrap servers (continuum only)")
    parser.add_argument("--cpu", type=int, help="pin this process (and its threads) to a CPU")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        # Before any thread starts: threads inherit the mask (sklearn/BLAS pools included).
        os.sched_setaffinity(0, {args.cpu})
    serve(args.variant, args.port, args.kafka)


if __name__ == "__main__":
    main()
