"""Predictions: answers, validation errors, unknown pipelines, no model yet."""

from __future__ import annotations

import random
from typing import Any

from serving_testkit import (
    FakeRegistry,
    make_record,
    make_spec,
    new_store,
    registry_with_champion,
    running,
)


async def test_predicts_with_the_champion_version() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        rng = random.Random(7)
        response = await world.predict([make_record(rng) for _ in range(3)])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_version"] == 1
        assert body["pipeline"] == "flights"
        assert len(body["request_id"]) == 32
        assert len(body["predictions"]) == 3
        for p in body["predictions"]:
            assert p["prediction"] in (0, 1)
            assert set(p["probabilities"]) == {"0", "1"}
            assert abs(sum(p["probabilities"].values()) - 1.0) < 1e-9
        assert (
            world.metric("continuum_serving_requests_total", pipeline="flights", status="200") == 1
        )
        assert (
            world.metric(
                "continuum_serving_request_duration_seconds_count",
                pipeline="flights",
                model_version="1",
            )
            == 1
        )
        assert world.metric("continuum_serving_model_version", pipeline="flights") == 1


async def test_nullable_features_may_be_null_or_absent() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        record = {"dep_delay": 3, "origin": "JFK"}  # no distance, carrier, id or time
        response = await world.predict([record, {**record, "distance": None, "carrier": None}])
        assert response.status_code == 200, response.text


def _errors(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = response.json()["detail"]
    return detail


async def test_422_names_each_record_field_and_reason() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        good = make_record()
        missing = {k: v for k, v in good.items() if k != "dep_delay"}
        records = [
            good,
            missing,
            {**good, "distance": "far"},
            {**good, "origin": "SFO"},
            {**good, "dep_delay": 99999},
            {**good, "dep_delay": True, "carrier": {"x": 1}},
            {**good, "time_hour": "yesterday"},
        ]
        errors = _errors(await world.predict(records))
        by_loc = {tuple(e["loc"]): e for e in errors}
        assert set(by_loc) == {
            ("body", "records", 1, "dep_delay"),
            ("body", "records", 2, "distance"),
            ("body", "records", 3, "origin"),
            ("body", "records", 4, "dep_delay"),
            ("body", "records", 5, "dep_delay"),
            ("body", "records", 5, "carrier"),
            ("body", "records", 6, "time_hour"),
        }
        assert by_loc[("body", "records", 1, "dep_delay")]["type"] == "missing"
        assert by_loc[("body", "records", 2, "distance")]["type"] == "float_type"
        assert by_loc[("body", "records", 2, "distance")]["input"] == "far"
        unknown = by_loc[("body", "records", 3, "origin")]
        assert unknown["type"] == "enum"
        assert "'EWR'" in unknown["msg"] and unknown["input"] == "SFO"
        assert by_loc[("body", "records", 4, "dep_delay")]["type"] == "less_than_equal"
        assert by_loc[("body", "records", 5, "dep_delay")]["type"] == "float_type"
        assert by_loc[("body", "records", 5, "carrier")]["type"] == "string_type"
        assert by_loc[("body", "records", 6, "time_hour")]["type"] == "datetime_parsing"
        assert (
            world.metric("continuum_serving_requests_total", pipeline="flights", status="422") == 1
        )
        # Nothing from a refused request is logged.
        assert world.parts.log.queued == 0


async def test_422_follows_the_record_contract_ingest_applies() -> None:
    # One contract with ingest: a categorical feature must be a string. Serving used to
    # turn numbers and booleans into strings; now they are refused, as ingest refuses them.
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        records = [
            make_record(carrier=7),
            make_record(carrier=False),
            make_record(flight_id=1.5),
            make_record(time_hour=1357016400),
            make_record(dep_delay=10**400),
        ]
        errors = _errors(await world.predict(records))
        assert [(e["loc"][2], e["loc"][3], e["type"]) for e in errors] == [
            (0, "carrier", "string_type"),
            (1, "carrier", "string_type"),
            (2, "flight_id", "string_type"),
            (3, "time_hour", "datetime_type"),
            (4, "dep_delay", "finite_number"),
        ]
        assert errors[0]["input"] == 7 and "valid string, not int" in errors[0]["msg"]


async def test_the_target_is_ignored_and_the_event_time_may_be_left_out() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        without_time = {k: v for k, v in make_record().items() if k != "time_hour"}
        # A label outside the target's classes would be quarantined by ingest; serving
        # does not read the target at all.
        response = await world.predict([without_time, make_record(late=7)])
        assert response.status_code == 200, response.text


async def test_422_for_null_in_a_non_nullable_field() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        errors = _errors(await world.predict([make_record(origin=None)]))
        assert errors == [
            {
                "loc": ["body", "records", 0, "origin"],
                "msg": "Field may not be null",
                "type": "null",
                "input": None,
            }
        ]


async def test_422_for_bad_bodies() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store, max_records=5) as world:
        empty = _errors(await world.predict([]))
        assert empty[0]["loc"] == ["body", "records"] and empty[0]["type"] == "too_short"
        too_many = _errors(await world.predict([make_record()] * 6))
        assert too_many[0]["type"] == "too_long"
        assert too_many[0]["msg"] == (
            "at most 5 records per request (CONTINUUM_SERVING_MAX_RECORDS), not 6"
        )
        not_json = _errors(
            await world.client.post("/v1/pipelines/flights/predict", content=b"{nope")
        )
        assert not_json[0]["type"] == "json_invalid"
        no_records = _errors(await world.client.post("/v1/pipelines/flights/predict", json={}))
        assert no_records[0]["loc"] == ["body", "records"] and no_records[0]["type"] == "missing"
        not_objects = _errors(await world.predict([make_record(), 3]))  # type: ignore[list-item]
        assert not_objects[0]["loc"] == ["body", "records", 1]


async def test_unknown_pipeline_is_404() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        response = await world.predict([make_record()], pipeline="nope")
        assert response.status_code == 404
        assert "nope" in response.json()["detail"]
        assert (
            world.metric("continuum_serving_requests_total", pipeline="<unknown>", status="404")
            == 1
        )


async def test_pipeline_without_champion_is_503_no_model_yet() -> None:
    store = new_store()
    registry = FakeRegistry()
    registry.apply(make_spec())
    async with running(registry, store) as world:
        response = await world.predict([make_record()])
        assert response.status_code == 503
        assert response.json() == {"detail": "no model yet"}
        health = await world.client.get("/health")
        assert health.status_code == 200
        assert health.json()["models"] == {}
        assert health.json()["pipelines"] == ["flights"]


async def test_503_while_the_registry_is_unreachable_then_serves() -> None:
    store = new_store()
    registry = registry_with_champion(store)
    registry.unreachable_calls = 10**9
    async with running(registry, store, wait_synced=False) as world:
        response = await world.predict([make_record()])
        assert response.status_code == 503
        assert (await world.client.get("/health")).status_code == 503
        registry.unreachable_calls = 0  # the registry comes up; the sync retries and loads
        from serving_testkit import wait_for

        await wait_for(lambda: world.parts.table.synced, "the registry sync")
        response = await world.predict([make_record()])
        assert response.status_code == 200
        assert response.json()["model_version"] == 1
        assert (await world.client.get("/health")).json()["status"] == "ok"


async def test_pipelines_health_and_metrics_endpoints() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        listing = (await world.client.get("/v1/pipelines")).json()["pipelines"]
        assert len(listing) == 1
        assert listing[0]["pipeline"] == "flights"
        assert listing[0]["model_version"] == 1
        assert listing[0]["loaded_at"]
        health = await world.client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["service"] == "serving"  # what `continuum up` checks
        assert health.json()["models"] == {"flights": 1}
        scraped = await world.client.get("/metrics")
        assert scraped.status_code == 200
        text = scraped.text
        for name in (
            "continuum_serving_model_version",
            "continuum_serving_model_swaps_total",
            "continuum_serving_model_swap_duration_seconds",
            "continuum_serving_prediction_log_queue_depth",
        ):
            assert name in text
