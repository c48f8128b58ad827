"""Canary rollouts end to end (issue 10): a worse candidate is rolled back by itself, a
better one reaches all traffic, and no request fails throughout.

One stack (the five services as processes, the session's Kafka) runs a pipeline with
``deployment: canary, steps [0.2, 0.5, 1.0], min_labelled 100``:

1. v1 is the cold start on 400 good records (it goes direct: nothing to compare with);
2. v2 is trained, on request, on a batch of 1,500 records whose labels were shuffled; if
   the gate passes it the canary starts by itself, else the test starts it by hand
   (``POST .../rollouts``, which skips the gate). Clients predict and send the true
   labels until the registry decides: rolled back, on the live metric;
3. v3 is trained on 1,500 good records (more than v1 saw) and canaried the same way
   until it completes and becomes the champion.

The rollouts' timelines (the registry's audit: start, each step, the decision, in
seconds after the start) are printed for the issue's closing note (``pytest -s``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.quality.settle import StackProbe
from continuum.cli.ports import free_ports
from continuum.cli.stack import SERVICES, LocalStack
from continuum.cli.topics_setup import ensure_topics
from continuum.contracts import PredictionsLogged, decode_event
from continuum.contracts.topics import PREDICTIONS
from continuum.localkafka import RunningKafka
from continuum.registry_client import RegistryClient
from tests.integration.rollout_stack import (
    NAME,
    SOURCE_TOPIC,
    SPEC,
    DataSource,
    Timeline,
    Traffic,
    produce,
    timeline_of,
    wait_for_run,
)

pytestmark = pytest.mark.integration


async def logged_arms(bootstrap: str, expected: float) -> Counter[tuple[int, str]]:
    """Records per (model version, arm) in this pipeline's ``PredictionsLogged`` on the log
    topic, read until the ``expected`` records serving says it published have all been
    seen. Other pipelines' are skipped: CI's broker is shared by the whole session, and
    counting earlier tests' predictions ended the read before this test's last ones."""
    consumer = AIOKafkaConsumer(
        PREDICTIONS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    counts: Counter[tuple[int, str]] = Counter()
    try:
        while sum(counts.values()) < expected:
            message = await asyncio.wait_for(consumer.getone(), timeout=60)
            event = decode_event(message.value)
            if isinstance(event, PredictionsLogged) and event.pipeline == NAME:
                counts[(event.model_version, event.arm)] += len(event.predictions)
    finally:
        await consumer.stop()
    return counts


async def train(
    registry: RegistryClient, probe: StackProbe, http: httpx.AsyncClient, version: int
) -> str:
    """Ask for a run on the stored batches; the gate's decision on the ``version`` it makes."""
    await registry.request_training(NAME, reason="rollout test", requested_by="rollout-test")
    run = await wait_for_run(registry, version)
    assert run.status == "succeeded", run
    print(f"\nv{version}: gate decision {run.decision}: {run.decision_reason}")
    return run.decision or ""


async def scenario(kafka: RunningKafka, home: Path) -> None:
    bootstrap = kafka.bootstrap_servers
    await ensure_topics(bootstrap, extra=[SOURCE_TOPIC])
    stack = LocalStack(home, bootstrap, ports=dict(zip(SERVICES, free_ports(5), strict=True)))
    await asyncio.to_thread(stack.start)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    probe = StackProbe(
        bootstrap,
        {name: stack.url(name) for name in SERVICES},
        patience=120,
    )
    try:
        await producer.start()
        await probe.start()
        async with (
            RegistryClient(stack.url("registry"), token=stack.token) as registry,
            httpx.AsyncClient(timeout=30) as http,
        ):

            async def versions() -> tuple[int | None, int | None]:
                champion = await registry.get_champion(NAME)
                health = (await http.get(f"{stack.url('serving')}/health")).json()
                return (champion.version if champion else None), health["models"].get(NAME)

            await registry.apply_spec(NAME, yaml.safe_dump(SPEC), applied_by="rollout-test")
            await probe.wait_assigned(http, SOURCE_TOPIC)
            source = DataSource()
            traffic = Traffic(stack, producer, http, source)
            produced = 0

            async def store(n: int, *, shuffle_labels: bool = False) -> None:
                nonlocal produced
                await produce(producer, source.records(n, shuffle_labels=shuffle_labels))
                produced += n
                await probe.wait_idle(http, versions, produced)

            # 1. The cold start: v1 goes direct.
            await store(400)
            assert (await wait_for_run(registry, 1)).decision == "promoted"
            await probe.wait_idle(http, versions, produced)
            assert await versions() == (1, 1)

            # 2. The worse candidate, canaried (by the gate, or by hand) and rolled back.
            await store(1_500, shuffle_labels=True)
            worse = await train(registry, probe, http, 2)
            if worse != "rollout":
                await registry.start_rollout(NAME, 2, reason=f"test: gate said {worse}")
            rolled_back = await traffic.until_decided(registry, 2)
            worse_timeline = await timeline_of(registry, rolled_back)
            print_timeline("worse candidate v2 (shuffled labels)", worse, worse_timeline)
            assert rolled_back.state == "rolled_back", rolled_back
            assert "roc_auc" in rolled_back.reason, rolled_back.reason
            champion = await registry.get_champion(NAME)
            assert champion is not None and champion.version == 1

            # 3. The better candidate, canaried to all traffic and promoted.
            await store(1_500)
            better = await train(registry, probe, http, 3)
            if better != "rollout":
                await registry.start_rollout(NAME, 3, reason=f"test: gate said {better}")
            completed = await traffic.until_decided(registry, 3)
            better_timeline = await timeline_of(registry, completed)
            print_timeline("better candidate v3 (more good data)", better, better_timeline)
            assert completed.state == "completed", completed
            await probe.wait_idle(http, versions, produced)
            assert await versions() == (3, 3)
            before = Counter(traffic.answered_by)
            for _ in range(5):
                await traffic.predict_once()
            assert traffic.answered_by - before == Counter({3: 5 * traffic.records_per_request})

            # Never a failed request; the champion never was v2; the log carried both arms.
            assert traffic.failed == [], traffic.failed[:5]
            promoted = [e.version for e in await registry.audit(NAME) if e.action == "promoted"]
            assert 2 not in promoted, promoted
            # The log publishes off the request path: wait for every answered record
            # (the last ones were answered by v3 as champion) before reading it back.
            answered = sum(traffic.answered_by.values())
            await probe.wait_published(http, answered)
            arms = await logged_arms(bootstrap, answered)
            print(f"records answered per version: {dict(traffic.answered_by)}")
            print(f"logged records per (version, arm): {dict(arms)}")
            assert arms[(2, "candidate")] > 0 and arms[(3, "candidate")] > 0, arms
            assert arms[(1, "champion")] > 0 and arms[(3, "champion")] > 0, arms
    finally:
        await probe.stop()
        await producer.stop()
        await asyncio.to_thread(stack.stop)


def print_timeline(title: str, gate: str, timeline: Timeline) -> None:
    """The rollout's moves, in a form to paste into the issue's closing note."""
    decided = timeline.moves[-1][0] if timeline.moves else float("nan")
    print(f"\n{title}: gate said {gate!r}; decided {timeline.rollout.state} at t+{decided:.1f} s")
    print("\n".join(timeline.lines()))


def test_a_worse_candidate_is_rolled_back_and_a_better_one_promoted(
    kafka: RunningKafka, tmp_path: Path
) -> None:
    asyncio.run(scenario(kafka, tmp_path / "stack"))
