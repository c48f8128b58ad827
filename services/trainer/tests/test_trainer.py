"""The trainer end to end in memory: triggers, coalescing, idempotency, failures, restart."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx
from faststream.kafka import TestApp, TestKafkaBroker
from trainer_testkit import (
    PIPELINE,
    START,
    Gate,
    Harness,
    card_of,
    make_rows,
    make_spec,
    promote,
)

from continuum.contracts import (
    DataVersion,
    DriftDetected,
    PipelineChanged,
    TrainingRequested,
)
from continuum.kafka import publish_event
from continuum.modelkit import (
    PREDICTION_COLUMN,
    feature_columns,
    load_champion,
    parquet_to_frame,
    read_reference_sample,
    score,
    target_values,
)
from continuum.storage import get_verified

SRC = "test"


def _drift(model_version: int = 1, window_end: datetime = START) -> DriftDetected:
    """A drift whose window ends at ``window_end`` (default: covered by any labelled batch)."""
    return DriftDetected(
        pipeline=PIPELINE,
        model_version=model_version,
        window_start=window_end - timedelta(hours=1),
        window_end=window_end,
        window_rows=100,
        drift_share=0.5,
        threshold=0.3,
        columns=[],
    )


async def test_below_threshold_no_run_then_crossing_it_trains_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=300))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(200), source=SRC)
        await publish_event(t.broker, h.batch(100, labelled=False), source=SRC)
        await t.service.runner.idle()
        assert h.trained == []
        assert t.service.state.runs(PIPELINE) == []
        assert (
            t.metrics.get_sample_value(
                "continuum_trainer_new_labelled_rows", {"pipeline": PIPELINE}
            )
            == 200
        )

        third = h.batch(150)
        await publish_event(t.broker, third, source=SRC)
        await t.service.runner.idle()

    (event,) = h.trained
    assert event.status == "succeeded", event.failure_reason
    assert event.trigger == "new_data"
    assert event.correlation_id == third.correlation_id
    assert event.metric == "roc_auc" and event.metrics["roc_auc"] > 0.7
    assert set(event.metrics) == {"roc_auc", "accuracy", "f1", "log_loss"}
    assert event.champion_version is None and event.champion_metrics == {}
    assert event.rows_train == 262 and event.rows_holdout == 88  # 350 labelled, 25 % holdout
    assert event.params == {"max_iter": 200}
    assert event.training_seconds is not None and event.training_seconds >= 0
    assert event.data_version is not None and len(event.data_version.batch_ids) == 3
    assert event.data_version == DataVersion.of(event.data_version.batch_ids)
    assert event.artifacts is not None
    assert event.artifacts.model.uri.endswith(f"models/{PIPELINE}/{event.run_id}/model.skops")

    model = load_champion(h.artifacts, event.artifacts, make_spec(), 1)
    assert model.predict(make_rows(3, offset=999)).probabilities is not None
    reference = read_reference_sample(h.artifacts, event.artifacts)
    assert list(reference.columns) == ["dep_hour", "distance", "origin", PREDICTION_COLUMN]
    assert len(reference) == 262
    # The holdout rows are stored too: scoring them again gives the event's figures.
    assert event.artifacts.holdout is not None
    holdout = parquet_to_frame(get_verified(h.artifacts, event.artifacts.holdout))
    assert len(holdout) == 88
    positives = int((holdout["late"] == 1).sum())
    assert 0 < positives < 88  # both classes, so the counts say something
    assert (event.holdout_positives, event.holdout_negatives) == (positives, 88 - positives)
    spec = make_spec()
    rescored = score(
        model.pipeline, feature_columns(spec, holdout), target_values(spec, holdout), spec.task
    )
    assert rescored == event.metrics
    card = card_of(h, event.artifacts)
    assert card["run_id"] == event.run_id and card["metrics"] == event.metrics
    assert {"scikit-learn", "skops", "numpy", "pandas"} <= set(card["package_versions"])
    assert (
        t.metrics.get_sample_value(
            "continuum_trainer_trainings_total",
            {"pipeline": PIPELINE, "trigger": "new_data", "outcome": "succeeded"},
        )
        == 1
    )


async def test_drift_triggers_a_run_scored_against_the_champion(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=None, on_drift=True))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(400), source=SRC)
        await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
        await t.service.runner.idle()
        first = h.trained[-1]
        assert first.trigger == "manual" and first.status == "succeeded"
        promote(h.registry, first, version=1)

        await publish_event(t.broker, h.batch(200), source=SRC)
        drift = _drift()
        await publish_event(t.broker, drift, source=SRC)
        await t.service.runner.idle()

    assert len(h.trained) == 2
    second = h.trained[1]
    assert second.trigger == "drift" and second.status == "succeeded"
    assert second.correlation_id == drift.correlation_id
    assert second.champion_version == 1
    assert set(second.champion_metrics) == {"roc_auc", "accuracy", "f1", "log_loss"}
    assert second.run_id != first.run_id


async def test_drift_is_ignored_when_the_spec_says_so(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=None, on_drift=False))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(400), source=SRC)
        await publish_event(t.broker, _drift(), source=SRC)
        await t.service.runner.idle()
    assert h.trained == []


async def test_triggers_during_a_run_coalesce_into_one_follow_up(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=300))
    gate = Gate()
    t = h.build(train_fn=gate)
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(300), source=SRC)
        await gate.wait_started()

        request = TrainingRequested(pipeline=PIPELINE, requested_by="alice")
        drift = _drift()
        await publish_event(t.broker, request, source=SRC)
        await publish_event(t.broker, drift, source=SRC)
        await publish_event(t.broker, h.batch(300), source=SRC)  # crosses the threshold again
        queued = t.service.state.queued_run(PIPELINE)
        assert queued is not None
        assert [tr.kind for tr in queued.triggers] == ["manual", "drift", "new_data"]
        assert (
            t.metrics.get_sample_value("continuum_trainer_pending_triggers", {"pipeline": PIPELINE})
            == 3
        )

        gate.release.set()
        await t.service.runner.idle()
        runs = t.service.state.runs(PIPELINE)

    assert [r.status for r in runs] == ["done", "done"]
    assert [len(r.triggers) for r in runs] == [1, 3]
    assert runs[1].run_id == h.trained[1].run_id
    assert len(gate.calls) == 2
    assert [e.trigger for e in h.trained] == ["new_data", "manual"]
    assert all(e.status == "succeeded" for e in h.trained)
    follow_up = h.trained[1]
    assert follow_up.correlation_id == request.correlation_id
    assert follow_up.data_version is not None and len(follow_up.data_version.batch_ids) == 2


async def test_duplicate_events_are_ignored(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=300))
    t = h.build()
    batch = h.batch(200)
    request = TrainingRequested(pipeline=PIPELINE)
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, batch, source=SRC)
        await publish_event(t.broker, batch, source=SRC)
        assert t.service.state.new_labelled_rows(PIPELINE) == 200
        assert len(t.service.state.batches(PIPELINE)) == 1
        await publish_event(t.broker, request, source=SRC)
        await t.service.runner.idle()
        await publish_event(t.broker, request, source=SRC)
        await t.service.runner.idle()
        assert len(t.service.state.runs(PIPELINE)) == 1
    assert len(h.trained) == 1


async def test_broken_data_publishes_a_failed_run_and_the_service_goes_on(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=300))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        bad = h.batch(200, corrupt=True)
        await publish_event(t.broker, bad, source=SRC)
        await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
        await t.service.runner.idle()
        failed = h.trained[-1]
        assert failed.status == "failed" and failed.artifacts is None
        assert failed.failure_reason is not None
        assert "IntegrityError" in failed.failure_reason and bad.batch_id in failed.failure_reason

        await publish_event(t.broker, h.batch(400), source=SRC)  # 600 new rows >= 300
        await t.service.runner.idle()
        health = await t.service.health()
        assert health["status"] == "ok"
        assert health["service"] == "trainer"  # what `continuum up` checks

    assert [e.status for e in h.trained] == ["failed", "succeeded"]
    good = h.trained[1]
    assert good.data_version is not None and bad.batch_id not in good.data_version.batch_ids
    assert good.artifacts is not None
    assert bad.batch_id in card_of(h, good.artifacts)["skipped_batches"]
    assert (
        t.metrics.get_sample_value(
            "continuum_trainer_trainings_total",
            {"pipeline": PIPELINE, "trigger": "manual", "outcome": "failed"},
        )
        == 1
    )


async def test_too_few_rows_for_a_manual_request_fails_with_a_reason(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(training={"min_rows": 500}))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(120), source=SRC)
        await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
        await t.service.runner.idle()
    (event,) = h.trained
    assert event.status == "failed"
    assert event.failure_reason is not None and "need 500" in event.failure_reason


async def test_state_survives_restart_and_a_pending_run_resumes_with_its_run_id(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=300))
    gate = Gate()
    first = h.build(train_fn=gate)
    batch = h.batch(350)
    async with TestKafkaBroker(first.broker), TestApp(first.app):
        await publish_event(first.broker, batch, source=SRC)
        await gate.wait_started()
        running = first.service.state.running_run(PIPELINE)
        assert running is not None
        run_id = running.run_id
    # The "process" died mid-training: the worker never finished this attempt.
    gate.abort = True
    gate.release.set()
    assert h.trained == []

    second = h.build()
    async with TestKafkaBroker(second.broker), TestApp(second.app):
        await second.service.runner.idle()
        await publish_event(second.broker, batch, source=SRC)  # redelivered: ignored
        await second.service.runner.idle()
        assert len(second.service.state.batches(PIPELINE)) == 1
        assert second.service.state.new_labelled_rows(PIPELINE) == 0
        (run,) = second.service.state.runs(PIPELINE)
        assert run.status == "done"

    (event,) = h.trained
    assert event.run_id == run_id and event.status == "succeeded"
    assert event.correlation_id == batch.correlation_id


async def test_pipeline_changed_refreshes_the_spec_and_applies_a_lower_threshold(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=1000))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(400), source=SRC)
        await t.service.runner.idle()
        assert h.trained == []
        spec = make_spec(min_new_labelled_rows=300)
        version = h.registry.apply(spec)
        changed = PipelineChanged(
            pipeline=PIPELINE,
            spec_version=version,
            spec_sha256=spec.sha256(),
            source_topic=spec.source_topic,
        )
        await publish_event(t.broker, changed, source=SRC)
        await t.service.runner.idle()
    (event,) = h.trained
    assert event.status == "succeeded" and event.spec_version == 2


async def test_schedule_trains_when_due_and_new_rows_arrived(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=None, schedule_seconds=0.001))
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(300), source=SRC)
        await t.service.tick()
        await t.service.runner.idle()
        await t.service.tick()  # no new rows since that run: nothing to do
        await t.service.runner.idle()
    assert [(e.trigger, e.status) for e in h.trained] == [("schedule", "succeeded")]


async def test_health_and_metrics_routes(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec())
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        transport = httpx.ASGITransport(app=t.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            health = await http.get("/health")
            metrics = await http.get("/metrics")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "continuum_trainer_trainings_total" in metrics.text


async def test_training_runs_in_a_spawned_worker_process_with_file_stores(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(min_new_labelled_rows=300), file_stores=True)
    h.settings = h.settings.model_copy(update={"worker_mode": "process"})
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(400), source=SRC)
        await t.service.runner.idle()
    (event,) = h.trained
    assert event.status == "succeeded", event.failure_reason
    assert event.artifacts is not None and event.artifacts.model.uri.startswith("file://")
    assert get_verified(h.artifacts, event.artifacts.model)


async def test_cold_start_trains_the_first_model_at_min_rows_then_waits_for_the_threshold(
    tmp_path: Path,
) -> None:
    spec = make_spec(
        min_new_labelled_rows=1000,
        cold_start=True,
        training={"min_rows": 150, "holdout_fraction": 0.25},
    )
    h = Harness(tmp_path, spec)
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(100), source=SRC)
        await t.service.runner.idle()
        assert h.trained == []  # below min_rows: nothing yet
        await publish_event(t.broker, h.batch(100), source=SRC)
        await t.service.runner.idle()
        assert [(e.trigger, e.status) for e in h.trained] == [("cold_start", "succeeded")]
        # After the first model, only the full threshold (1000 new rows) retrains.
        await publish_event(t.broker, h.batch(300), source=SRC)
        await t.service.runner.idle()
        assert len(h.trained) == 1
        await publish_event(t.broker, h.batch(700), source=SRC)
        await t.service.runner.idle()
    assert [(e.trigger, e.status) for e in h.trained] == [
        ("cold_start", "succeeded"),
        ("new_data", "succeeded"),
    ]
    assert (
        t.metrics.get_sample_value(
            "continuum_trainer_trainings_total",
            {"pipeline": PIPELINE, "trigger": "cold_start", "outcome": "succeeded"},
        )
        == 1
    )
