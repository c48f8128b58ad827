"""Canary rollouts: sticky routing by entity, answers naming their version, fallbacks."""

from __future__ import annotations

import random
from typing import Any, cast

import pytest
from rollout_testkit import ROLLOUT_ID, by_arm, collect_logs, logged_count, registry_mid_rollout
from serving_testkit import make_record, new_store, running, wait_for

import continuum.serving.inference as inference_module
from continuum.contracts import PredictionsLogged
from continuum.serving.inference import predict_records as real_predict
from continuum.serving.models import Rollout, ServingModel
from continuum.serving.routing import candidate_positions

ENTITIES = [f"f-{i}" for i in range(20_000)]


def _rollout(share: float, rollout_id: str = ROLLOUT_ID) -> Rollout:
    # Routing reads only the rollout's id and share: no model is needed.
    return Rollout(rollout_id, "canary", 0, share, cast(ServingModel, None))


def _chosen(rollout: Rollout, request_id: str = "r") -> set[str]:
    picked = candidate_positions(rollout, list[str | None](ENTITIES), request_id)
    return {ENTITIES[i] for i in picked}


def test_the_candidate_gets_its_share_of_entities_and_keeps_them_as_the_share_grows() -> None:
    tenth, half, everyone = _chosen(_rollout(0.1)), _chosen(_rollout(0.5)), _chosen(_rollout(1))
    assert len(tenth) / len(ENTITIES) == pytest.approx(0.1, abs=0.01)
    assert len(half) / len(ENTITIES) == pytest.approx(0.5, abs=0.015)
    assert everyone == set(ENTITIES)
    assert tenth < half  # an entity on the candidate stays there at the next step
    assert _chosen(_rollout(0.0)) == set()
    # Sticky: the same entity goes the same way in every request (whatever its id).
    assert _chosen(_rollout(0.1), request_id="another request") == tenth
    # Another rollout draws other entities: no entity is the canary of every rollout.
    other = _chosen(_rollout(0.1, "flights-rollout-2"))
    assert len(other & tenth) / len(tenth) == pytest.approx(0.1, abs=0.03)


def test_records_without_an_entity_id_follow_their_request() -> None:
    rollout = _rollout(0.3)
    chosen = 0
    for n in range(5_000):
        picked = candidate_positions(rollout, [None, None, None], f"request-{n}")
        assert picked in ([], [0, 1, 2])  # a request's records stay together
        chosen += bool(picked)
    assert chosen / 5_000 == pytest.approx(0.3, abs=0.02)


async def test_canary_answers_name_the_version_and_the_log_carries_each_arm() -> None:
    store = new_store()
    registry = registry_mid_rollout(store, traffic_share=0.5)
    messages: list[PredictionsLogged] = []
    async with running(registry, store, setup=collect_logs(messages)) as world:
        rollout = world.parts.table.slots["flights"].rollout
        assert rollout is not None and rollout.candidate.version == 2
        rng = random.Random(7)
        records = [make_record(rng, flight_id=f"f-{i}") for i in range(120)]
        expected = {
            r["flight_id"]: 2 if candidate_positions(rollout, [r["flight_id"]], "") else 1
            for r in records
        }
        versions: dict[str, int] = {}
        for record in records + records[:30]:  # the first 30 entities come back
            response = await world.predict([record])
            assert response.status_code == 200, response.text
            body = response.json()
            assert "model_version" not in body["predictions"][0]  # one version answered
            assert (
                versions.setdefault(record["flight_id"], body["model_version"])
                == (body["model_version"])
            )
        assert versions == expected
        assert set(versions.values()) == {1, 2}

        # A request whose records fall on both arms: each answer names its version.
        mixed = await world.predict(records[:20])
        body = mixed.json()
        assert body["model_version"] == 1
        per_record = [p["model_version"] for p in body["predictions"]]
        assert per_record == [expected[r["flight_id"]] for r in records[:20]]

        await wait_for(lambda: logged_count(messages) == 170, "every prediction logged")
        arms = by_arm(messages)
        assert set(arms) == {"champion", "candidate"}
        for arm, version in (("champion", 1), ("candidate", 2)):
            assert {m.model_version for m in arms[arm]} == {version}
            assert {m.rollout_id for m in arms[arm]} == {ROLLOUT_ID}
            assert sum(m.inference_seconds for m in arms[arm]) > 0
            assert sum(m.errors for m in arms[arm]) == 0
        # The mixed request's records keep their positions in its request id.
        mixed_ids = {
            p.request_id: p.entity_id
            for m in messages
            for p in m.predictions
            if p.request_id.startswith(body["request_id"])
        }
        assert mixed_ids == {f"{body['request_id']}:{i}": r["flight_id"] for i, r in
                             enumerate(records[:20])}  # fmt: skip
        for arm, version in (("champion", "1"), ("candidate", "2")):
            labels = {"pipeline": "flights", "model_version": version, "arm": arm}
            count = sum(1 for v in per_record + list(versions.values()) if str(v) == version)
            assert world.metric("continuum_serving_inference_seconds_count", **labels) >= 1
            assert world.metric("continuum_serving_arm_requests_total", **labels) >= 1
            assert world.metric("continuum_serving_predictions_total", **labels) == (
                count + sum(1 for r in records[:30] if str(expected[r["flight_id"]]) == version)
            )


async def test_a_failing_candidate_is_answered_by_the_champion_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def candidate_fails_long_delays(model: Any, records: list[Any]) -> Any:
        if model.version == 2 and any(r["dep_delay"] > 60 for r in records):
            raise ValueError("the candidate cannot")
        return real_predict(model, records)

    store = new_store()
    registry = registry_mid_rollout(store, traffic_share=1.0)
    messages: list[PredictionsLogged] = []
    async with running(registry, store, setup=collect_logs(messages)) as world:
        monkeypatch.setattr(inference_module, "predict_records", candidate_fails_long_delays)
        rng = random.Random(8)
        failing = [make_record(rng, dep_delay=90.0) for _ in range(4)]
        fine = [make_record(rng, dep_delay=10.0) for _ in range(3)]
        responses = [await world.predict([r]) for r in failing]
        responses.append(await world.predict(fine))
        assert [r.status_code for r in responses] == [200] * 5
        assert [r.json()["model_version"] for r in responses] == [1, 1, 1, 1, 2]
        assert [len(r.json()["predictions"]) for r in responses] == [1, 1, 1, 1, 3]

        await wait_for(lambda: logged_count(messages) == 7, "every prediction logged")
        arms = by_arm(messages)
        assert logged_count(arms["champion"]) == 4  # the fallbacks, on the champion's arm
        assert logged_count(arms["candidate"]) == 3
        assert sum(m.errors for m in arms["candidate"]) == 4
        assert sum(m.errors for m in arms["champion"]) == 0
        errors = {"pipeline": "flights", "model_version": "2", "arm": "candidate"}
        assert world.metric("continuum_serving_arm_errors_total", **errors) == 4
        assert world.metric("continuum_serving_requests_total", pipeline="flights",
                            status="200") == 5  # fmt: skip


async def test_oip_answers_of_the_candidate_carry_its_version() -> None:
    store = new_store()
    registry = registry_mid_rollout(store, traffic_share=1.0)
    async with running(registry, store) as world:
        record = make_record()
        body = {
            "inputs": [
                {"name": n, "datatype": "FP64" if n in ("dep_delay", "distance") else "BYTES",
                 "shape": [1], "data": [record[n]]}
                for n in ("dep_delay", "distance", "origin", "carrier")
            ]
        }  # fmt: skip
        response = await world.client.post("/v2/models/flights/infer", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["model_version"] == "2"
        # Pinned to the champion's version: the champion answers, whatever the rollout.
        pinned = await world.client.post("/v2/models/flights/versions/1/infer", json=body)
        assert pinned.json()["model_version"] == "1"
