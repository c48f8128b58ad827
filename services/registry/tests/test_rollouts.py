"""Rollouts through the registry app (HTTP, in-memory Kafka, SQLite): a candidate that
passes the gate under a canary spec is rolled out, not promoted; the monitor's verdicts
advance, complete or roll it back; operators start and abort rollouts by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from registry_testkit import SPEC_YAML, Harness, registry_settings, running

from continuum.contracts import RolloutEvaluated, utc_now
from continuum.contracts.topics import MODELS_PROMOTED, MODELS_REGISTERED, ROLLOUTS
from continuum.kafka import publish_event
from continuum.registry_client import RegistryError
from continuum.storage import ObjectStore

CANARY_YAML = (
    SPEC_YAML + "deployment: {strategy: canary, steps: [0.2, 0.5, 1.0], min_labelled: 50}\n"
)


@pytest.fixture
async def canary(tmp_path: Path, artifact_store: ObjectStore) -> AsyncIterator[Harness]:
    async with running(registry_settings(tmp_path, artifact_store)) as harness:
        await harness.registry.apply_spec("churn", CANARY_YAML, applied_by="alice")
        yield harness


def _changes(harness: Harness) -> list[dict[str, Any]]:
    return [e for e in harness.published[ROLLOUTS] if e["event_type"].endswith("changed")]


async def _evaluate(harness: Harness, step: int, candidate_value: float, **fields: Any) -> None:
    rollout = await harness.registry.rollout("churn")
    assert rollout is not None
    values: dict[str, Any] = {
        "pipeline": "churn",
        "rollout_id": rollout.rollout_id,
        "step": step,
        "candidate_version": rollout.candidate_version,
        "champion_version": rollout.champion_version,
        "metric": "roc_auc",
        "candidate_value": candidate_value,
        "champion_value": 0.70,
        "candidate_std_error": 0.02,
        "champion_std_error": 0.01,
        "candidate_rows": 60,
        "champion_rows": 240,
        "candidate_error_rate": 0.0,
        "candidate_latency_ms": 0.5,
        "champion_latency_ms": 0.4,
    }
    event = RolloutEvaluated.model_validate(values | fields)
    await publish_event(harness.broker, event, source="test-monitor")


async def _two_versions(harness: Harness, trained: Any, make_artifacts: Any) -> None:
    """v1 (fair) champion by the gate; v2 (good) passes the gate: rolled out, not promoted."""
    auc = {q: make_artifacts.metrics(q)["roc_auc"] for q in ("good", "fair")}
    await harness.train(trained("run-1", auc["fair"], artifacts=make_artifacts("run-1", "fair")))
    await harness.train(trained("run-2", auc["good"], artifacts=make_artifacts("run-2", "good")))


async def test_a_gate_passing_candidate_is_canaried_then_promoted_step_by_step(
    canary: Harness, trained: Any, make_artifacts: Any
) -> None:
    registry = canary.registry
    await _two_versions(canary, trained, make_artifacts)
    registered = canary.published[MODELS_REGISTERED]
    assert [r["decision"] for r in registered] == ["promoted", "rollout"]
    assert "rolling out by canary" in registered[1]["decision_reason"]
    assert [p["version"] for p in canary.published[MODELS_PROMOTED]] == [1]  # not yet v2
    champion = await registry.get_champion("churn")
    assert champion is not None and champion.version == 1
    rollout = await registry.rollout("churn")
    assert rollout is not None and rollout.live
    assert (rollout.candidate_version, rollout.champion_version) == (2, 1)
    assert (rollout.step, rollout.traffic_share, rollout.state) == (0, 0.2, "started")

    await _evaluate(canary, 0, 0.71)
    await _evaluate(canary, 0, 0.71)  # redelivered / repeated: the step moved on already
    await _evaluate(canary, 1, 0.72)
    states = [(c["state"], c["step"], c["traffic_share"]) for c in _changes(canary)]
    assert states == [("started", 0, 0.2), ("advanced", 1, 0.5), ("completed", 2, 1.0)]
    promoted = canary.published[MODELS_PROMOTED][-1]
    assert (promoted["version"], promoted["previous_version"], promoted["reason"]) == (2, 1, "gate")
    champion = await registry.get_champion("churn")
    assert champion is not None and champion.version == 2
    done = await registry.rollout("churn")
    assert done is not None and done.state == "completed" and not done.live
    actions = [e.action for e in await registry.audit("churn")]
    assert actions[:4] == ["rollout_completed", "promoted", "rollout_advanced", "rollout_started"]
    assert (
        canary.sample(
            "continuum_registry_rollout_moves_total", {"pipeline": "churn", "move": "completed"}
        )
        == 1
    )
    assert (
        canary.sample(
            "continuum_registry_rollout_evaluations_total",
            {"pipeline": "churn", "outcome": "stale"},
        )
        == 1
    )


async def test_a_worse_candidate_started_by_hand_is_rolled_back_with_the_reason(
    canary: Harness, trained: Any, make_artifacts: Any
) -> None:
    registry = canary.registry
    auc = make_artifacts.metrics("poor")["roc_auc"]
    await canary.train(
        trained(
            "run-1",
            make_artifacts.metrics("good")["roc_auc"],
            artifacts=make_artifacts("run-1", "good"),
        )
    )
    await canary.train(trained("run-2", auc, artifacts=make_artifacts("run-2", "poor")))
    assert (await registry.get_model("churn", 2)).decision == "rejected"  # type: ignore[union-attr]
    started = await registry.start_rollout("churn", 2, reason="try the shuffled model", actor="ops")
    assert (started.state, started.candidate_version, started.traffic_share) == ("started", 2, 0.2)
    with pytest.raises(RegistryError) as busy:
        await registry.start_rollout("churn", 2)
    assert busy.value.status_code == 409 and "abort it first" in str(busy.value.detail)

    await _evaluate(canary, 0, 0.50, candidate_rows=20)  # too few rows: nothing yet
    assert (await registry.rollout("churn")).live  # type: ignore[union-attr]
    await _evaluate(canary, 0, 0.50)
    ended = await registry.rollout("churn")
    assert ended is not None and ended.state == "rolled_back"
    assert "worse than champion v1's 0.7000" in ended.reason
    assert _changes(canary)[-1]["reason"] == ended.reason
    assert (await registry.get_champion("churn")).version == 1  # type: ignore[union-attr]
    assert [p["version"] for p in canary.published[MODELS_PROMOTED]] == [1]
    [entry] = [e for e in await registry.audit("churn") if e.action == "rollout_rolled_back"]
    assert entry.version == 2 and entry.detail["reason"] == ended.reason


async def test_operator_errors_are_clear(
    canary: Harness, trained: Any, make_artifacts: Any
) -> None:
    registry, http = canary.registry, canary.http
    assert await registry.rollout("churn") is None
    assert (await http.get("/v1/pipelines/churn/rollout")).status_code == 404
    await canary.train(trained("run-1", 0.9, artifacts=make_artifacts("run-1", "good")))
    for version, code, says in [(1, 409, "already the champion"), (9, 404, "no model version 9")]:
        with pytest.raises(RegistryError) as error:
            await registry.start_rollout("churn", version)
        assert error.value.status_code == code and says in str(error.value.detail)
    with pytest.raises(RegistryError) as none_live:
        await registry.abort_rollout("churn")
    assert none_live.value.status_code == 409
    anonymous = await http.post("/v1/pipelines/churn/rollouts", json={"version": 1})
    assert anonymous.status_code == 401
    bad = await http.post(
        "/v1/pipelines/churn/rollouts",
        json={"version": 0},
        headers={"authorization": "Bearer test-token-0123456789"},
    )
    assert bad.status_code == 422 and "version" in bad.text


async def test_abort_by_hand_and_a_manual_promotion_end_a_live_rollout(
    canary: Harness, trained: Any, make_artifacts: Any
) -> None:
    registry = canary.registry
    await _two_versions(canary, trained, make_artifacts)
    aborted = await registry.abort_rollout("churn", reason="not tonight", actor="ops")
    assert (aborted.state, aborted.reason) == ("rolled_back", "not tonight")
    again = await registry.start_rollout("churn", 2)
    assert again.rollout_id != aborted.rollout_id
    await registry.promote("churn", 2, reason="ship it")
    ended = await registry.rollout("churn")
    assert ended is not None and ended.state == "rolled_back"
    assert ended.reason == "champion set to v2 by hand: ship it"
    await _evaluate(canary, 0, 0.9)  # for a rollout that is over: ignored
    assert len(canary.published[MODELS_PROMOTED]) == 2


async def test_a_newer_candidate_supersedes_the_live_rollout(
    canary: Harness, trained: Any, make_artifacts: Any
) -> None:
    await _two_versions(canary, trained, make_artifacts)
    auc = make_artifacts.metrics("good")["roc_auc"]
    await canary.train(trained("run-3", auc, artifacts=make_artifacts("run-3", "good")))
    changes = _changes(canary)
    assert [(c["candidate_version"], c["state"]) for c in changes] == [
        (2, "started"),
        (2, "rolled_back"),
        (3, "started"),
    ]
    assert changes[1]["reason"] == "superseded by v3"


async def test_the_clock_holds_a_passed_step_for_min_seconds_and_times_out_a_silent_one(
    tmp_path: Path, artifact_store: ObjectStore, trained: Any, make_artifacts: Any
) -> None:
    spec = SPEC_YAML + (
        "deployment: {strategy: shadow, min_labelled: 50, min_seconds: 60, max_step_seconds: 600}\n"
    )
    async with running(registry_settings(tmp_path, artifact_store)) as harness:
        await harness.registry.apply_spec("churn", spec)
        await _two_versions(harness, trained, make_artifacts)
        driver = harness.app.state.rollouts
        start = (await harness.registry.rollout("churn")).step_started_at  # type: ignore[union-attr]
        assert (await harness.registry.rollout("churn")).traffic_share == 0.0  # type: ignore[union-attr]
        await _evaluate(harness, 0, 0.71)  # passed, but held for min_seconds
        assert (await harness.registry.rollout("churn")).live  # type: ignore[union-attr]
        driver.clock = lambda: start + timedelta(seconds=30)
        await driver.tick()
        assert (await harness.registry.rollout("churn")).live  # type: ignore[union-attr]
        driver.clock = lambda: start + timedelta(seconds=61)
        await driver.tick()
        done = await harness.registry.rollout("churn")
        assert done is not None and done.state == "completed"
        assert (await harness.registry.get_champion("churn")).version == 2  # type: ignore[union-attr]

        # A rollout that hears nothing is rolled back at max_step_seconds.
        await harness.registry.start_rollout("churn", 1)
        driver.clock = lambda: utc_now() + timedelta(seconds=601)
        await driver.tick()
        late = await harness.registry.rollout("churn")
        assert late is not None and late.state == "rolled_back"
        assert "no verdict on step 0 within max_step_seconds 600" in late.reason
        assert (await harness.registry.get_champion("churn")).version == 2  # type: ignore[union-attr]


async def test_a_live_rollout_survives_a_restart(
    tmp_path: Path, artifact_store: ObjectStore, trained: Any, make_artifacts: Any
) -> None:
    settings = registry_settings(tmp_path, artifact_store)
    async with running(settings) as harness:
        await harness.registry.apply_spec("churn", CANARY_YAML)
        await _two_versions(harness, trained, make_artifacts)
        before = await harness.registry.rollout("churn")
    async with running(settings) as harness:
        after = await harness.registry.rollout("churn")
        assert after == before and after is not None and after.live
        await _evaluate(harness, 0, 0.71)
        assert (await harness.registry.rollout("churn")).step == 1  # type: ignore[union-attr]
