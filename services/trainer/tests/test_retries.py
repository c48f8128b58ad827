"""Typed jobs round-trip through SQLite; a failed run is retried, and a fixed spec trains."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from faststream.kafka import TestApp, TestKafkaBroker
from pydantic import ValidationError
from trainer_testkit import PIPELINE, Harness, Trainer, make_spec

from continuum.contracts import PipelineChanged, PipelineSpec, TrainingRequested
from continuum.kafka import publish_event
from continuum.trainer.jobs import JobBatch, TrainingJob, TrainingResult, TriggerRef
from continuum.trainer.retries import RetryPolicy
from continuum.trainer.state import TrainerState

SRC = "test"
TRIGGER = {"event_id": "e-1", "kind": "new_data", "correlation_id": "c-1"}


def _job_dict() -> dict[str, Any]:
    """A job exactly as the trainer used to store it (a plain dict in ``runs.job``)."""
    return {
        "pipeline": PIPELINE,
        "run_id": "run-1",
        "spec": make_spec().model_dump(mode="json", by_alias=True),
        "spec_version": 1,
        "data_root": "memory://data",
        "artifact_root": "memory://artifacts",
        "batches": [
            {"batch_id": "b-1", "uri": "memory://data/b", "sha256": "0" * 64, "size_bytes": 3}
        ],
        "champion": None,
        "triggers": [TRIGGER],
        "reference_max_rows": 5000,
        "threads": 1,
    }


def test_a_job_round_trips_as_json_and_reads_the_old_dict_form() -> None:
    job = TrainingJob.from_json(json.dumps(_job_dict()))
    assert job.batches == (
        JobBatch(batch_id="b-1", uri="memory://data/b", sha256="0" * 64, size_bytes=3),
    )
    assert job.triggers == (TriggerRef("e-1", "new_data", "c-1"),)
    assert job.spec == make_spec() and job.reference_max_rows == 5000
    assert TrainingJob.from_json(job.to_json()) == job
    assert json.loads(job.to_json())["spec"]["schema"]  # the spec keeps its aliases
    with pytest.raises(ValidationError):
        TrainingJob.from_json(json.dumps(_job_dict() | {"triggers": [TRIGGER | {"kind": "x"}]}))
    with pytest.raises(ValidationError):
        TriggerRef("e-2", "whenever", "c-2")  # type: ignore[arg-type]


def test_backoff_doubles_up_to_the_cap_and_stops_after_the_last_retry() -> None:
    policy = RetryPolicy(first_seconds=30, max_seconds=100, max_retries=4)
    assert [policy.delay(n) for n in range(1, 6)] == [30, 60, 100, 100, None]


def _bad_spec() -> PipelineSpec:
    body = make_spec().model_dump(mode="json", by_alias=True)
    body["model"]["params"] = {"max_iter": -5}  # LogisticRegression refuses it at fit time
    return PipelineSpec.model_validate(body)


def _fast_retries(h: Harness, retries: int = 2) -> None:
    h.settings = h.settings.model_copy(
        update={
            "failed_run_retry_seconds": 0.01,
            "failed_run_retry_max_seconds": 0.02,
            "failed_run_retries": retries,
        }
    )


async def _after_backoff(t: Trainer) -> None:
    await asyncio.sleep(0.05)
    await t.service.tick()
    await t.service.runner.idle()


async def _pipeline_health(t: Trainer) -> dict[str, Any]:
    health = await t.service.health()
    pipelines: dict[str, dict[str, Any]] = health["pipelines"]  # type: ignore[assignment]
    return pipelines[PIPELINE]


def _last_run_failed(t: Trainer) -> float | None:
    return t.metrics.get_sample_value("continuum_trainer_last_run_failed", {"pipeline": PIPELINE})


async def test_a_failed_first_run_is_retried_then_a_fixed_spec_trains_at_once(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, _bad_spec())
    _fast_retries(h, retries=2)
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        batch = h.batch(400)
        await publish_event(t.broker, batch, source=SRC)
        await t.service.runner.idle()
        (first,) = h.trained
        assert first.status == "failed" and first.failure_reason is not None
        assert "max_iter" in first.failure_reason
        health = await _pipeline_health(t)
        assert health["last_run_failed"] is True and health["failed_runs_in_a_row"] == 1
        assert "max_iter" in health["last_failure_reason"]
        assert health["next_retry_at"] is not None
        assert _last_run_failed(t) == 1

        await _after_backoff(t)  # retry 1 of 2
        await _after_backoff(t)  # retry 2 of 2
        await _after_backoff(t)  # used up: nothing more
        assert [e.status for e in h.trained] == ["failed"] * 3
        assert len({e.run_id for e in h.trained}) == 3
        # A retry continues the failed run's causal chain, with its trigger.
        assert {(e.trigger, e.correlation_id) for e in h.trained} == {
            ("new_data", batch.correlation_id)
        }
        health = await _pipeline_health(t)
        assert health["failed_runs_in_a_row"] == 3 and health["next_retry_at"] is None

        fixed = make_spec()
        version = h.registry.apply(fixed)
        changed = PipelineChanged(
            pipeline=PIPELINE,
            spec_version=version,
            spec_sha256=fixed.sha256(),
            source_topic=fixed.source_topic,
        )
        await publish_event(t.broker, changed, source=SRC)  # no waiting for a backoff
        await t.service.runner.idle()
        last = h.trained[-1]
        assert (last.status, last.spec_version) == ("succeeded", version), last.failure_reason
        assert last.artifacts is not None and last.correlation_id == batch.correlation_id
        health = await _pipeline_health(t)
        assert health.pop("last_run")["outcome"] == "succeeded"
        assert health == {
            "last_run_failed": False,
            "last_failure_reason": None,
            "last_failed_run": None,
            "failed_runs_in_a_row": 0,
            "next_retry_at": None,
        }
        assert _last_run_failed(t) == 0
    assert len(h.trained) == 4


class FailingTrain:
    """A worker that dies on every run (say, out of memory)."""

    def __call__(self, job: TrainingJob) -> TrainingResult:
        raise MemoryError("worker ran out of memory (simulated)")


async def test_the_retry_schedule_survives_a_restart(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec())
    _fast_retries(h)
    first = h.build(train_fn=FailingTrain())
    batch = h.batch(400)
    async with TestKafkaBroker(first.broker), TestApp(first.app):
        await publish_event(first.broker, batch, source=SRC)
        await first.service.runner.idle()
        scheduled = (await _pipeline_health(first))["next_retry_at"]
    assert [e.status for e in h.trained] == ["failed"] and scheduled is not None

    second = h.build()  # restarted, and the transient trouble is gone
    async with TestKafkaBroker(second.broker), TestApp(second.app):
        assert (await _pipeline_health(second))["next_retry_at"] == scheduled
        assert _last_run_failed(second) == 1
        await _after_backoff(second)
    retried = h.trained[-1]
    assert [e.status for e in h.trained] == ["failed", "succeeded"]
    assert retried.run_id != h.trained[0].run_id
    assert retried.correlation_id == batch.correlation_id


async def test_a_failed_manual_run_is_not_retried_but_says_why(tmp_path: Path) -> None:
    h = Harness(tmp_path, make_spec(training={"min_rows": 500}))
    _fast_retries(h)
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await publish_event(t.broker, h.batch(120), source=SRC)
        await publish_event(t.broker, TrainingRequested(pipeline=PIPELINE), source=SRC)
        await t.service.runner.idle()
        await _after_backoff(t)
        health = await _pipeline_health(t)
    (event,) = h.trained
    assert event.status == "failed"
    assert "need 500" in health["last_failure_reason"] and health["next_retry_at"] is None


async def test_a_running_run_whose_stored_job_is_unreadable_fails_with_a_reason(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, make_spec())
    state = TrainerState.open(h.settings.state_dir)
    with state.transaction() as tx:
        run = tx.add_trigger(PIPELINE, TriggerRef("e-9", "drift", str(uuid.uuid4())))
        tx.db.execute("UPDATE runs SET status='running', job='{}' WHERE run_id=?", (run.run_id,))
    state.close()
    t = h.build()
    async with TestKafkaBroker(t.broker), TestApp(t.app):
        await t.service.runner.idle()
        (done,) = t.service.state.runs(PIPELINE)
    (event,) = h.trained
    assert (event.run_id, event.status, done.status) == (run.run_id, "failed", "done")
    assert event.failure_reason is not None and "could not be read" in event.failure_reason
