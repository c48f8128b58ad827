"""The two retraining policies: cost_aware (live quality) and rules (label-aware drift),
plus never training twice on the same data."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestApp, TestKafkaBroker
from trainer_testkit import PIPELINE, START, Harness, Trainer, make_spec, promote

from continuum.contracts import (
    DriftDetected,
    GateDecision,
    ModelPromoted,
    ModelRegistered,
    ModelTrained,
    PipelineChanged,
    QualityMeasured,
    TrainingRequested,
)
from continuum.kafka import publish_event
from continuum.modelkit.metric_noise import auc_std_error, holdout_std_error
from continuum.modelkit.policy_state import PolicyState
from continuum.trainer import quality_policy
from continuum.trainer.records import run_id_for
from continuum.trainer.state import TrainerState

SRC = "test"


def _quality(version: int, value: float, std_error: float = 0.02) -> QualityMeasured:
    return QualityMeasured(
        pipeline=PIPELINE,
        model_version=version,
        window_start=START,
        window_end=START + timedelta(hours=1),
        rows=300,
        metric="roc_auc",
        value=value,
        std_error=std_error,
    )


def _registered(trained: ModelTrained, version: int, decision: GateDecision) -> ModelRegistered:
    return ModelRegistered(
        pipeline=PIPELINE,
        correlation_id=trained.correlation_id,
        run_id=trained.run_id,
        version=version,
        trigger=trained.trigger,
        decision=decision,
        decision_reason="test",
        metrics=trained.metrics,
    )


def _drift(window_end: datetime) -> DriftDetected:
    return DriftDetected(
        pipeline=PIPELINE,
        model_version=1,
        window_start=window_end - timedelta(hours=1),
        window_end=window_end,
        window_rows=100,
        drift_share=0.5,
        threshold=0.3,
        columns=[],
    )


def _policy(t: Trainer) -> PolicyState:
    state = t.service.state.policy.get(PIPELINE)
    assert state is not None
    return state


def _sample(t: Trainer, name: str, **labels: str) -> float | None:
    return t.metrics.get_sample_value(name, {"pipeline": PIPELINE, **labels})


async def _first_model(h: Harness, t: Trainer, rows: int = 400) -> ModelTrained:
    """A manual first run on ``rows`` rows, promoted to v1 and registered as such."""
    await publish_event(t.broker, h.batch(rows), source=SRC)
    await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
    await t.service.runner.idle()
    first = h.trained[-1]
    assert first.status == "succeeded", first.failure_reason
    promote(h.registry, first, version=1)
    await publish_event(t.broker, _registered(first, 1, "promoted"), source=SRC)
    return first


async def test_cost_aware_retrains_on_a_sustained_drop_not_on_noise(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(policy="cost_aware", retrain_cost=0.05))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        first = await _first_model(h, t)
        state = _policy(t)
        assert state.champion_version == 1 and state.champion_rows == first.rows_train
        reference = state.reference
        assert reference is not None and reference < first.metrics["roc_auc"]  # less its noise

        await publish_event(t.broker, h.batch(300), source=SRC)  # new rows alone: no run
        for delta in (0.02, -0.02, 0.01, -0.025, 0.015, -0.02, 0.0, -0.01):
            await publish_event(t.broker, _quality(1, reference + delta, 0.03), source=SRC)
        await t.service.runner.idle()
        assert len(h.trained) == 1
        assert _policy(t).accumulated_loss == 0
        assert _sample(t, "continuum_trainer_policy_decisions_total", decision="wait") == 8

        drop = _quality(1, reference - 0.1, 0.02)
        await publish_event(t.broker, drop, source=SRC)
        await t.service.runner.idle()
        assert _sample(t, "continuum_trainer_policy_decisions_total", decision="retrain") == 1
        loss = _sample(t, "continuum_trainer_policy_accumulated_loss")
        assert loss is not None and loss >= 0.05

    assert [(e.trigger, e.status) for e in h.trained] == [
        ("manual", "succeeded"),
        ("quality", "succeeded"),
    ]
    second = h.trained[1]
    assert second.correlation_id == drop.correlation_id and second.champion_version == 1
    assert second.run_id == run_id_for(PIPELINE, str(drop.event_id))  # the window opened it


async def test_model_registered_updates_the_policy_state(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(policy="cost_aware", retrain_cost=10.0))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await _first_model(h, t)
        reference = _policy(t).reference
        assert reference is not None
        for _ in range(3):
            await publish_event(t.broker, _quality(1, reference - 0.1, 0.01), source=SRC)
        assert _policy(t).accumulated_loss > 0.2 and _policy(t).windows == 3

        await publish_event(t.broker, h.batch(200), source=SRC)
        await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
        await t.service.runner.idle()
        second = h.trained[-1]
        assert second.champion_version == 1
        registered = _registered(second, 2, "promoted")
        await publish_event(t.broker, registered, source=SRC)
        await publish_event(t.broker, registered, source=SRC)  # redelivered: no-op
        promoted = _policy(t)
        assert promoted.champion_version == 2 and promoted.champion_rows == second.rows_train
        assert promoted.accumulated_loss == 0 and promoted.windows == 0
        assert _sample(t, "continuum_trainer_policy_accumulated_loss") == 0

        await publish_event(t.broker, _quality(1, 0.1), source=SRC)  # the old champion's
        assert _policy(t) == promoted

        assert promoted.reference is not None
        await publish_event(t.broker, _quality(2, promoted.reference - 0.1, 0.01), source=SRC)
        await publish_event(t.broker, h.batch(200), source=SRC)
        await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
        await t.service.runner.idle()
        third = h.trained[-1]
        await publish_event(t.broker, _registered(third, 3, "rejected"), source=SRC)
        rejected = _policy(t)

    # Rejected: the champion stays, the account starts over, the champion's holdout score
    # (less its noise) becomes the reference.
    assert rejected.champion_version == 2 and rejected.accumulated_loss == 0
    assert rejected.reference is not None
    assert rejected.reference < third.champion_metrics["roc_auc"]
    assert rejected.reference > third.champion_metrics["roc_auc"] - 0.1


async def test_a_quality_run_waits_until_its_windows_labels_are_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The monitor joined the window's labels, but ingest has not stored those rows yet:
    # a run now would train on the last run's data (and be skipped as a duplicate).
    caplog.set_level(logging.INFO, logger="continuum.trainer")
    h = Harness(tmp_path, make_spec(policy="cost_aware", label_wait_seconds=3600))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await _first_model(h, t)
        reference = _policy(t).reference
        assert reference is not None
        window_end = START + timedelta(minutes=10 * (h.offset + 100))
        drop = _quality(1, reference - 0.3, 0.01).model_copy(update={"window_end": window_end})
        await publish_event(t.broker, drop, source=SRC)
        await t.service.tick()
        await t.service.runner.idle()
        assert len(h.trained) == 1
        waiting = t.service.state.policy.pending(PIPELINE)
        assert waiting is not None and waiting.trigger.kind == "quality"

        await publish_event(t.broker, h.batch(200), source=SRC)  # labels reach window_end
        await t.service.runner.idle()
        assert t.service.state.policy.pending(PIPELINE) is None

    assert [e.trigger for e in h.trained] == ["manual", "quality"]
    assert h.trained[1].correlation_id == drop.correlation_id
    assert h.trained[1].rows_train > h.trained[0].rows_train  # trained on the new rows
    assert "quality on flights: labels covering its window" in caplog.text


async def test_cost_aware_drift_alone_starts_no_run(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(policy="cost_aware"))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await _first_model(h, t)
        await publish_event(t.broker, h.batch(300), source=SRC)
        await publish_event(t.broker, _drift(START), source=SRC)
        await t.service.runner.idle()
        assert t.service.state.policy.pending(PIPELINE) is None
    assert len(h.trained) == 1


async def test_rules_drift_waits_for_the_labels_of_its_window(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="continuum.trainer")
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=None, label_wait_seconds=3600))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await _first_model(h, t)
        window_end = START + timedelta(minutes=10 * (h.offset + 100))
        drift = _drift(window_end)
        await publish_event(t.broker, drift, source=SRC)
        await publish_event(t.broker, h.batch(200, labelled=False), source=SRC)  # no labels
        await t.service.tick()
        await t.service.runner.idle()
        assert len(h.trained) == 1
        assert t.service.state.policy.pending(PIPELINE) is not None

        await publish_event(t.broker, h.batch(200), source=SRC)  # labels reach window_end
        await t.service.runner.idle()
        assert t.service.state.policy.pending(PIPELINE) is None

    assert [e.trigger for e in h.trained] == ["manual", "drift"]
    assert h.trained[1].correlation_id == drift.correlation_id
    assert "labels covering its window" in caplog.text


async def test_rules_drift_trains_after_label_wait_seconds_without_labels(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="continuum.trainer")
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=None, label_wait_seconds=0.2))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await _first_model(h, t)
        await publish_event(t.broker, h.batch(100), source=SRC)  # new data, before the window
        await publish_event(t.broker, _drift(START + timedelta(days=365)), source=SRC)
        await t.service.runner.idle()
        assert len(h.trained) == 1
        await asyncio.sleep(0.3)
        await t.service.tick()
        await t.service.runner.idle()
    assert [e.trigger for e in h.trained] == ["manual", "drift"]
    assert "no labels covering its window after" in caplog.text


async def test_an_automatic_run_on_the_last_runs_data_is_skipped(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=None))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await _first_model(h, t)
        await publish_event(t.broker, _drift(START), source=SRC)  # labels in; same batches
        await t.service.runner.idle()
        assert len(h.trained) == 1
        runs = t.service.state.runs(PIPELINE)
        assert [r.status for r in runs] == ["done", "done"]
        assert _sample(t, "continuum_trainer_runs_skipped_total", reason="same_data") == 1
        health: Any = await t.service.health()
        assert health["pipelines"][PIPELINE]["last_run"]["outcome"] == "skipped"
        assert health["pipelines"][PIPELINE]["last_run"]["run_id"] == runs[1].run_id

        spec = make_spec(min_new_labelled_rows=None, label_wait_seconds=60)
        version = h.registry.apply(spec)
        changed = PipelineChanged(
            pipeline=PIPELINE,
            spec_version=version,
            spec_sha256=spec.sha256(),
            source_topic=spec.source_topic,
        )
        await publish_event(t.broker, changed, source=SRC)
        await publish_event(t.broker, _drift(START), source=SRC)  # same data, new spec: trains
        await t.service.runner.idle()
        assert [e.trigger for e in h.trained] == ["manual", "drift"]

        await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
        await t.service.runner.idle()  # a manual request trains anyway
    assert [e.trigger for e in h.trained] == ["manual", "drift", "manual"]


async def test_policy_state_and_a_pending_drift_survive_a_restart(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=None, label_wait_seconds=3600))
    first = h.build()
    async with TestKafkaBroker(first.broker), TestApp(first.app):
        await _first_model(h, first)
        window_end = START + timedelta(minutes=10 * (h.offset + 100))
        await publish_event(first.broker, _drift(window_end), source=SRC)
        await first.service.runner.idle()
        state = _policy(first)  # registrations teach the policy under rules too
    assert state.champion_version == 1

    second = h.build()
    async with TestKafkaBroker(second.broker), TestApp(second.app):
        assert _policy(second) == state
        assert second.service.state.policy.pending(PIPELINE) is not None
        await publish_event(second.broker, h.batch(200), source=SRC)  # covers the window
        await second.service.runner.idle()
    assert [e.trigger for e in h.trained] == ["manual", "drift"]


def test_holdout_std_error_approximations() -> None:
    assert auc_std_error(0.5, 50, 50) == pytest.approx(0.05802, abs=1e-4)  # Hanley-McNeil
    assert holdout_std_error("roc_auc", 0.5, 100) == auc_std_error(0.5, 50, 50)  # balanced
    assert holdout_std_error("accuracy", 0.9, 100) == pytest.approx(0.03)
    assert (
        holdout_std_error("mae", 3.0, 100) == 0.0 and holdout_std_error("roc_auc", None, 100) == 0
    )


@pytest.mark.parametrize("counts", [(20, 180), None], ids=["class_counts", "older_run"])
def test_the_policy_bounds_a_promoted_candidate_by_its_holdouts_class_counts(
    tmp_path: Path, counts: tuple[int, int] | None
) -> None:
    spec = make_spec(policy="cost_aware")
    trained = ModelTrained(
        pipeline=PIPELINE,
        run_id="run-1",
        trigger="cold_start",
        status="succeeded",
        spec_version=1,
        metric="roc_auc",
        metrics={"roc_auc": 0.8},
        rows_train=600,
        rows_holdout=200,
        holdout_positives=counts[0] if counts else None,
        holdout_negatives=counts[1] if counts else None,
    )
    state = TrainerState.open(tmp_path)
    try:
        with state.transaction() as tx:
            tx.policy.note_result(trained)
            policy = quality_policy.on_registered(tx, spec, _registered(trained, 1, "promoted"))
    finally:
        state.close()

    # 20 positives in 200 rows: exact Hanley-McNeil, wider than the balanced approximation
    # an older run (no counts reported) still gets.
    exact, balanced = auc_std_error(0.8, 20, 180), holdout_std_error("roc_auc", 0.8, 200)
    assert exact > 1.5 * balanced
    std_error = exact if counts else balanced
    noise_z = quality_policy.policy_for(spec).noise_z
    assert policy.reference == pytest.approx(0.8 - noise_z * std_error)


async def test_a_rollback_makes_the_policy_follow_the_champion(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(policy="cost_aware", retrain_cost=10.0))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        first = await _first_model(h, t)
        assert first.artifacts is not None
        await publish_event(t.broker, _quality(1, 0.5, 0.01), source=SRC)
        rollback = ModelPromoted(
            pipeline=PIPELINE, version=7, artifacts=first.artifacts, reason="rollback"
        )
        await publish_event(t.broker, rollback, source=SRC)
        state = _policy(t)
        assert state.champion_version == 7 and state.accumulated_loss == 0
        assert state.reference is None
        await publish_event(t.broker, _quality(7, 0.8), source=SRC)  # heard, not ignored
        assert _policy(t).windows == 1 and _policy(t).reference == 0.8
