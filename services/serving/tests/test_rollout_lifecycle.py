"""Rollouts from start to end: shadows, events confirmed by the registry, restarts."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from faststream.kafka import KafkaMessage
from rollout_testkit import (
    ROLLOUT_ID,
    by_arm,
    collect_logs,
    logged_count,
    registry_mid_rollout,
    rollout_event,
)
from serving_testkit import (
    make_record,
    new_store,
    registry_with_champion,
    running,
    wait_for,
)

from continuum.contracts import (
    EventKeyring,
    PredictionsLogged,
    RolloutEvaluated,
    encode_event,
)
from continuum.contracts.topics import ROLLOUTS, dlq_topic
from continuum.kafka import publish_event
from continuum.serving.bootstrap import ServingParts


async def test_shadow_predicts_copies_that_are_logged_but_never_returned() -> None:
    store = new_store()
    registry = registry_mid_rollout(store, strategy="shadow", traffic_share=0.0)
    messages: list[PredictionsLogged] = []
    async with running(registry, store, setup=collect_logs(messages)) as world:
        rng = random.Random(9)
        responses = [await world.predict([make_record(rng) for _ in range(3)]) for _ in range(10)]
        assert {r.json()["model_version"] for r in responses} == {1}
        await wait_for(lambda: logged_count(messages) == 60, "both arms' predictions logged")
        arms = by_arm(messages)
        assert set(arms) == {"champion", "shadow"}
        assert {m.model_version for m in arms["shadow"]} == {2}
        assert {m.rollout_id for m in messages} == {ROLLOUT_ID}
        assert sum(m.inference_seconds for m in arms["shadow"]) > 0
        # The shadow predicted the very records the client sent, under their request ids.
        ids = {r.json()["request_id"] for r in responses}
        shadowed = {p.request_id for m in arms["shadow"] for p in m.predictions}
        assert shadowed == {f"{i}:{n}" for i in ids for n in range(3)}
        labels = {"pipeline": "flights", "model_version": "2", "arm": "shadow"}
        assert world.metric("continuum_serving_predictions_total", **labels) == 30
        assert world.metric("continuum_serving_rollout_traffic_share", pipeline="flights") == 0


async def test_a_full_shadow_queue_drops_copies_and_no_request_waits() -> None:
    store = new_store()
    registry = registry_mid_rollout(store, strategy="shadow", traffic_share=0.0)
    async with running(registry, store, shadow_queue_size=4) as world:
        rng = random.Random(10)
        # Five requests at once: the queue takes the first two copies (4 records).
        bodies = [[make_record(rng), make_record(rng)] for _ in range(5)]
        responses = await asyncio.gather(*(world.predict(body) for body in bodies))
        assert [r.status_code for r in responses] == [200] * 5
        dropped = world.metric("continuum_serving_shadow_dropped_total", pipeline="flights")
        shadow = {"pipeline": "flights", "model_version": "2", "arm": "shadow"}
        await wait_for(
            lambda: world.metric("continuum_serving_predictions_total", **shadow) + dropped == 10,
            "the copies that fit to be predicted",
        )
        assert dropped >= 2


async def test_a_backed_up_prediction_log_sheds_shadow_copies_before_champion_entries() -> None:
    store = new_store()
    registry = registry_mid_rollout(store, strategy="shadow", traffic_share=0.0)
    async with running(registry, store, log_queue_size=10) as world:
        kafka_answers = asyncio.Event()

        async def hung(*args: Any, **kwargs: Any) -> None:
            await kafka_answers.wait()  # Kafka accepts nothing: the log cannot drain

        world.parts.broker.publish = hung  # type: ignore[method-assign]
        rng = random.Random(12)
        for _ in range(6):  # one record each
            assert (await world.predict([make_record(rng)])).status_code == 200
        # A copy is taken while log entries + copies + itself fit in half the log (10):
        # 1+0+1 and 2+1+1 do, 3+2+1 does not, so the last four copies are shed and all six
        # champion predictions found room (twelve entries would have cost two of them).
        dropped = world.metric("continuum_serving_shadow_dropped_total", pipeline="flights")
        assert dropped == 4
        assert world.metric("continuum_serving_prediction_logs_dropped_total",
                            pipeline="flights") == 0  # fmt: skip
        kafka_answers.set()


async def test_rollout_events_are_followed_as_the_registry_confirms_them() -> None:
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    async with running(registry, store) as world:
        slot = world.parts.table.slots["flights"]
        broker = world.parts.broker
        assert slot.rollout is None

        # An event the registry does not confirm (no rollout there) moves nothing.
        registry.set_rollout("flights", rollout_id=ROLLOUT_ID, traffic_share=0.1)
        event = rollout_event(registry)
        del registry.rollouts["flights"]
        await publish_event(broker, event, source="continuum-registry")
        assert slot.rollout is None

        registry.set_rollout("flights", rollout_id=ROLLOUT_ID, traffic_share=0.1)
        await publish_event(broker, rollout_event(registry), source="continuum-registry")
        first = slot.rollout
        assert first is not None and (first.candidate.version, first.traffic_share) == (2, 0.1)
        # Redelivered: nothing changes; advanced: the same loaded candidate, a new share.
        await publish_event(broker, rollout_event(registry), source="continuum-registry")
        assert slot.rollout is first
        registry.set_rollout("flights", rollout_id=ROLLOUT_ID, step=1, traffic_share=0.5,
                             state="advanced")  # fmt: skip
        await publish_event(broker, rollout_event(registry), source="continuum-registry")
        assert slot.rollout is not None and slot.rollout.traffic_share == 0.5
        assert slot.rollout.candidate is first.candidate
        assert world.metric("continuum_serving_rollout_traffic_share", pipeline="flights") == 0.5

        # The monitor's verdicts share the topic: ignored, never dead-lettered.
        verdict = RolloutEvaluated(
            pipeline="flights", rollout_id=ROLLOUT_ID, step=1, candidate_version=2,
            champion_version=1, metric="roc_auc", candidate_value=0.8, champion_value=0.8,
            candidate_std_error=0.01, champion_std_error=0.01, candidate_rows=300,
            champion_rows=300, candidate_error_rate=0.0, candidate_latency_ms=1.0,
            champion_latency_ms=1.0,
        )  # fmt: skip
        await publish_event(broker, verdict, source="continuum-monitor")
        assert slot.rollout is not None

        # Completed: the candidate arm ends, and the promotion makes v2 the champion.
        registry.set_rollout("flights", rollout_id=ROLLOUT_ID, step=2, traffic_share=1.0,
                             state="completed")  # fmt: skip
        registry.champions["flights"] = 2
        await publish_event(broker, rollout_event(registry), source="continuum-registry")
        await publish_event(broker, world.promotion(2), source="continuum-registry")
        assert slot.rollout is None
        response = await world.predict([make_record()])
        assert response.json()["model_version"] == 2
        assert world.metric("continuum_serving_rollout_traffic_share", pipeline="flights") == 0


async def test_a_restart_mid_rollout_resumes_it_and_a_rollback_ends_it() -> None:
    store = new_store()
    registry = registry_mid_rollout(store, step=1, traffic_share=0.5, state="advanced")
    async with running(registry, store) as world:
        # Nothing but the registry told this fresh replica about the rollout.
        rollout = world.parts.table.slots["flights"].rollout
        assert rollout is not None
        assert (rollout.rollout_id, rollout.step, rollout.traffic_share) == (ROLLOUT_ID, 1, 0.5)
        assert rollout.candidate.version == 2 and rollout.candidate.arm == "candidate"
        rng = random.Random(11)
        answers = {(await world.predict([make_record(rng)])).json()["model_version"]
                   for _ in range(40)}  # fmt: skip
        assert answers == {1, 2}

        registry.set_rollout("flights", rollout_id=ROLLOUT_ID, step=1, traffic_share=0.5,
                             state="rolled_back", reason="candidate trails")  # fmt: skip
        await publish_event(world.parts.broker, rollout_event(registry), source="registry")
        assert world.parts.table.slots["flights"].rollout is None
        answers = {(await world.predict([make_record(rng)])).json()["model_version"]
                   for _ in range(20)}  # fmt: skip
        assert answers == {1}


async def test_the_reconciler_repairs_a_missed_rollout_event() -> None:
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    async with running(registry, store) as world:
        registry.set_rollout("flights", rollout_id=ROLLOUT_ID, traffic_share=0.1)
        await world.parts.manager.reconcile_all()  # what run_reconciler does each period
        rollout = world.parts.table.slots["flights"].rollout
        assert rollout is not None and rollout.traffic_share == 0.1


async def test_forged_rollout_events_are_dead_lettered() -> None:
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    dead: list[dict[str, str]] = []

    def observe(parts: ServingParts) -> None:
        @parts.broker.subscriber(dlq_topic(ROLLOUTS), group_id="test-observer")
        async def dead_letter(message: KafkaMessage) -> None:
            dead.append(dict(message.headers))

    async with running(registry, store, setup=observe) as world:
        registry.set_rollout("flights", rollout_id=ROLLOUT_ID, traffic_share=0.5)
        calls = len(registry.calls)
        attacker = EventKeyring.of(["an-attackers-own-key-1234567890"])
        for keyring in (None, attacker):
            record = encode_event(rollout_event(registry), source="x", keyring=keyring)
            broker: Any = world.parts.broker
            await broker.publish(record.value, topic=record.topic, key=record.key,
                                 headers=record.headers)  # fmt: skip
        assert world.parts.table.slots["flights"].rollout is None
        assert len(registry.calls) == calls  # refused before anyone asked the registry
    assert [h["dlq_reason"].split(":")[0] for h in dead] == ["UnverifiedEventError"] * 2
