"""SIGKILL the trainer in the middle of a training; after a restart there is still exactly
one registered version for that trigger (the run resumes under the same run id and the
registry is idempotent on it)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from continuum.cli.ports import free_ports
from continuum.cli.stack import SERVICES, LocalStack
from continuum.cli.topics_setup import ensure_topics
from continuum.registry_client import RegistryClient

pytestmark = pytest.mark.integration

SPEC = """
name: crashy
source_topic: crashy.events
task: binary_classification
schema:
  event_time: ts
  entity_id: id
  target: {name: y}
  features:
    - {name: x1, type: numeric}
    - {name: x2, type: numeric}
    - {name: x3, type: numeric}
    - {name: colour, type: categorical, values: [red, green, blue]}
model:
  estimator: HistGradientBoostingClassifier
  params: {max_iter: 200}
  # A search makes the run long enough to be killed in the middle of it.
  search:
    n_candidates: 16
    cv: 3
    params:
      learning_rate: {distribution: loguniform, low: 0.01, high: 0.3}
      max_leaf_nodes: {distribution: randint, low: 8, high: 64}
training: {min_rows: 3000, holdout_fraction: 0.2}
triggers: {policy: rules, cold_start: true, min_new_labelled_rows: 1000000, on_drift: false}
promotion: {metric: roc_auc, floor: 0.5}
ingest: {flush_rows: 1000, flush_seconds: 1}
"""


def records(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(count):
        x1, x2, x3 = rng.gauss(0, 1), rng.gauss(0, 1), rng.random()
        colour = rng.choice(["red", "green", "blue"])
        signal = x1 + 0.5 * x2 + (0.7 if colour == "red" else 0.0) + rng.gauss(0, 1)
        rows.append(
            {
                "id": f"r{i}",
                "ts": (start + timedelta(minutes=i)).isoformat(),
                "x1": x1,
                "x2": x2,
                "x3": x3,
                "colour": colour,
                "y": int(signal > 0.5),
            }
        )
    return rows


async def produce(bootstrap: str, topic: str, rows: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        sends = [
            await producer.send(topic, json.dumps(r).encode(), key=r["id"].encode()) for r in rows
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def wait_until(check: Any, limit: float, what: str, stack: LocalStack) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    logs = {n: s.log_path.read_text()[-1500:] for n, s in stack.running.items()}
    pytest.fail(f"timed out waiting for {what}; logs: {logs}")


async def test_trainer_killed_mid_training_still_yields_exactly_one_version(
    kafka: Any, tmp_path: Path
) -> None:
    await ensure_topics(kafka.bootstrap_servers, extra=["crashy.events"])
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    stack = LocalStack(tmp_path / "home", kafka.bootstrap_servers, ports=ports)
    await asyncio.to_thread(stack.start, ("registry", "ingest", "trainer"))
    try:
        async with RegistryClient(stack.url("registry"), token=stack.token) as registry:
            await registry.apply_spec("crashy", SPEC)
            await produce(kafka.bootstrap_servers, "crashy.events", records(4000))

            async with httpx.AsyncClient(timeout=5) as http:

                async def training() -> Any:
                    health = (await http.get(f"{stack.url('trainer')}/health")).json()
                    return health.get("running")

                running = await wait_until(training, 120, "a training to start", stack)
            await asyncio.to_thread(stack.kill, "trainer")  # SIGKILL mid-training
            assert await registry.list_models("crashy") == [], "training finished before the kill"

            await asyncio.to_thread(stack.start_one, "trainer")

            async def registered() -> Any:
                return await registry.list_models("crashy")

            versions = await wait_until(registered, 180, "the resumed run to register", stack)
            await asyncio.sleep(5)  # a duplicate registration would show up by now
            versions = await registry.list_models("crashy")
    finally:
        await asyncio.to_thread(stack.stop)

    assert len(versions) == 1, versions
    (version,) = versions
    assert version.trigger == "cold_start"
    assert version.version == 1
    assert version.run_id in json.dumps(running)
