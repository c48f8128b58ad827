"""Promotions: hot swaps under load, ordering rules, broken artifacts, new pipelines."""

from __future__ import annotations

import asyncio
import gc
import random
import threading
from typing import Any

import pytest
from serving_testkit import (
    make_record,
    make_spec,
    new_store,
    registry_with_champion,
    running,
    train_artifacts,
    wait_for,
)

import continuum.serving.inference as inference_module
from continuum.contracts import PipelineChanged
from continuum.kafka import publish_event
from continuum.serving.inference import predict_records as real_predict


async def test_promotion_swaps_while_requests_are_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = new_store()
    registry = registry_with_champion(store)
    async with running(registry, store) as world:
        # Hold version 1's predictions (in its worker thread) across the whole swap.
        gate = threading.Event()
        held: list[int] = []

        def gated_predict(model: Any, records: Any) -> Any:
            if model.version == 1 and not gate.is_set():
                held.append(len(records))
                gate.wait(timeout=30)
            return real_predict(model, records)

        monkeypatch.setattr(inference_module, "predict_records", gated_predict)
        rng = random.Random(1)
        blocked = [asyncio.create_task(world.predict([make_record(rng)])) for _ in range(2)]
        await wait_for(lambda: len(held) == 1, "a request inside predict")

        # A storm of requests around the promotion: none may fail.
        storm = [asyncio.create_task(world.predict([make_record(rng)])) for _ in range(60)]
        await asyncio.sleep(0)
        registry.champions["flights"] = 2  # the gate promoted it, then announced it
        await publish_event(world.parts.broker, world.promotion(2), source="test")
        storm += [asyncio.create_task(world.predict([make_record(rng)])) for _ in range(60)]

        # Version 2 answers while version 1 is still busy with requests that started on it.
        after = await asyncio.gather(*(world.predict([make_record(rng)]) for _ in range(20)))
        assert not any(task.done() for task in blocked)  # still in flight on version 1
        gate.set()
        storm_responses = await asyncio.gather(*storm)
        blocked_responses = await asyncio.gather(*blocked)

        for response in (*storm_responses, *after, *blocked_responses):
            assert response.status_code == 200, response.text
        assert {r.json()["model_version"] for r in storm_responses} <= {1, 2}
        assert {r.json()["model_version"] for r in after} == {2}
        # The held requests finished on the model they started with.
        assert [r.json()["model_version"] for r in blocked_responses] == [1, 1]
        assert world.metric("continuum_serving_model_version", pipeline="flights") == 2
        assert world.metric("continuum_serving_model_swaps_total", pipeline="flights") == 2
        assert (
            world.metric("continuum_serving_model_swap_duration_seconds_count", pipeline="flights")
            == 2
        )


async def test_older_gate_promotion_is_ignored_but_rollback_is_applied() -> None:
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    registry.champions["flights"] = 2
    async with running(registry, store) as world:
        assert (await world.predict([make_record()])).json()["model_version"] == 2
        await publish_event(world.parts.broker, world.promotion(1), source="test")
        assert (await world.predict([make_record()])).json()["model_version"] == 2
        registry.champions["flights"] = 1
        await publish_event(world.parts.broker, world.promotion(1, reason="rollback"), source="t")
        assert (await world.predict([make_record()])).json()["model_version"] == 1
        # The same promotion again (at-least-once delivery) changes nothing.
        await publish_event(world.parts.broker, world.promotion(1, reason="rollback"), source="t")
        assert world.metric("continuum_serving_model_swaps_total", pipeline="flights") == 2


async def test_a_swapped_in_model_is_frozen_out_of_the_collectors_scans() -> None:
    # Full collections of the whole heap were serving's p99; a loaded model is not rescanned.
    gc.unfreeze()
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    async with running(registry, store) as world:
        slot = world.parts.table.get("flights")
        assert slot is not None and slot.current is not None
        first = slot.current.model.pipeline
        assert not any(o is first for o in gc.get_objects())
        registry.champions["flights"] = 2
        await publish_event(world.parts.broker, world.promotion(2), source="test")
        assert slot.current.version == 2
        assert not any(o is slot.current.model.pipeline for o in gc.get_objects())
    gc.unfreeze()


async def test_tampered_artifact_keeps_the_old_model_and_counts_an_error() -> None:
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    async with running(registry, store) as world:
        key = "flights/v2/model.skops"
        store.objects[key] = store.objects[key][:-10] + b"0123456789"  # same size, new bytes
        registry.champions["flights"] = 2
        await publish_event(world.parts.broker, world.promotion(2), source="test")

        response = await world.predict([make_record()])
        assert response.status_code == 200
        assert response.json()["model_version"] == 1
        assert (
            world.metric(
                "continuum_serving_model_load_errors_total",
                pipeline="flights",
                reason="IntegrityError",
            )
            == 1
        )
        listing = (await world.client.get("/v1/pipelines")).json()["pipelines"]
        assert listing[0]["refused_versions"] == [2]
        # Reconciling with the registry (champion 2) does not retry the refused artifact.
        await world.parts.manager.reconcile_all()
        assert (await world.predict([make_record()])).json()["model_version"] == 1
        assert (
            world.metric(
                "continuum_serving_model_load_errors_total",
                pipeline="flights",
                reason="IntegrityError",
            )
            == 1
        )


async def test_a_promotion_the_registry_does_not_confirm_moves_nothing() -> None:
    # Forged or stale: v2 exists, but the registry's champion is still v1; v9 does not exist.
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    async with running(registry, store) as world:
        await publish_event(world.parts.broker, world.promotion(2), source="test")
        forged = world.promotion(2).model_copy(update={"version": 9})  # v2's artifacts
        await publish_event(world.parts.broker, forged, source="test")
        assert (await world.predict([make_record()])).json()["model_version"] == 1
        errors = "continuum_serving_model_load_errors_total"
        assert world.metric(errors, pipeline="flights", reason="not_champion") == 1
        assert world.metric(errors, pipeline="flights", reason="unknown_version") == 1
        assert world.metric("continuum_serving_model_swaps_total", pipeline="flights") == 1


async def test_reconcile_repairs_a_missed_promotion() -> None:
    store = new_store()
    registry = registry_with_champion(store, versions=2)
    async with running(registry, store) as world:
        registry.champions["flights"] = 2  # promoted while no event reached this replica
        await world.parts.manager.reconcile_all()
        assert (await world.predict([make_record()])).json()["model_version"] == 2


async def test_a_pipeline_applied_after_start_is_learned_and_served() -> None:
    store = new_store()
    registry = registry_with_champion(store)
    async with running(registry, store) as world:
        assert (await world.predict([make_record()], pipeline="buses")).status_code == 404
        spec = make_spec("buses")
        registry.apply(spec)
        changed = PipelineChanged(
            pipeline="buses",
            spec_version=1,
            spec_sha256=spec.sha256(),
            source_topic=spec.source_topic,
        )
        await publish_event(world.parts.broker, changed, source="test")
        response = await world.predict([make_record()], pipeline="buses")
        assert response.status_code == 503
        assert response.json()["detail"] == "no model yet"

        registry.add_model("buses", 1, train_artifacts(store, spec, 1, seed=5))
        registry.champions["buses"] = 1
        await publish_event(world.parts.broker, world.promotion(1, pipeline="buses"), source="test")
        response = await world.predict([make_record()], pipeline="buses")
        assert response.status_code == 200
        assert response.json()["model_version"] == 1
        assert response.json()["pipeline"] == "buses"

        retired = changed.model_copy(update={"change": "retired"})
        await publish_event(world.parts.broker, retired, source="test")
        assert (await world.predict([make_record()], pipeline="buses")).status_code == 404
