"""The monitor's side of a rollout: both arms of the live step joined to their labels,
one RolloutEvaluated once each arm has min_labelled labelled predictions, gauges per arm."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from monitor_testkit import PIPELINE, Harness, harness, make_spec, traffic

from continuum.contracts import (
    DeploymentPolicy,
    Feedback,
    PredictionRecord,
    PredictionsLogged,
    RolloutChanged,
    RolloutEvaluated,
)
from continuum.monitor.quality import roc_auc

MIN = 60
STEP_START = datetime.now(UTC) - timedelta(minutes=1)


def _spec(strategy: str = "canary") -> Any:
    policy = DeploymentPolicy(strategy=strategy, steps=[0.2, 1.0], min_labelled=MIN)  # type: ignore[arg-type]
    return make_spec().model_copy(update={"deployment": policy})


def _change(
    step: int = 0, state: str = "started", rollout_id: str = "ro-1", **extra: Any
) -> RolloutChanged:
    return RolloutChanged(
        pipeline=PIPELINE,
        rollout_id=rollout_id,
        strategy=extra.pop("strategy", "canary"),
        champion_version=1,
        candidate_version=2,
        step=step,
        traffic_share=extra.pop("traffic_share", 0.2),
        state=state,  # type: ignore[arg-type]
        occurred_at=extra.pop("occurred_at", STEP_START),
        **extra,
    )


def _batch(
    frame: Any,
    *,
    version: int,
    arm: str,
    prefix: str,
    rollout_id: str | None = "ro-1",
    **extra: Any,
) -> PredictionsLogged:
    at = extra.pop("at", datetime.now(UTC))
    proba = extra.pop("proba", frame["proba"].to_numpy())
    records = [
        PredictionRecord(
            request_id=f"{prefix}-{i}",
            occurred_at=at,
            features={"n0": float(row["n0"])},
            prediction=int(p > 0.5),
            probabilities={"0": 1 - float(p), "1": float(p)},
        )
        for i, (p, (_, row)) in enumerate(zip(proba, frame.iterrows(), strict=True))
    ]
    return PredictionsLogged(
        pipeline=PIPELINE,
        model_version=version,
        predictions=records,
        arm=arm,  # type: ignore[arg-type]
        rollout_id=rollout_id,
        **extra,
    )


def _truth(frame: Any) -> np.ndarray:
    rng = np.random.default_rng(3)
    return ((frame["n0"] + frame["n1"] + rng.normal(0, 1.5, len(frame))) > 0).astype(int).to_numpy()


async def _label(h: Harness, prefix: str, truth: np.ndarray) -> None:
    for i, label in enumerate(truth):
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=f"{prefix}-{i}", label=int(label))
        )


def _evaluations(h: Harness) -> list[RolloutEvaluated]:
    return [e for e in h.published if isinstance(e, RolloutEvaluated)]


async def test_a_canary_step_is_evaluated_once_both_arms_have_min_labelled(tmp_path: Any) -> None:
    h = harness(tmp_path, spec=_spec())
    await h.monitor.bootstrap()
    await h.monitor.on_rollout(_change())
    assert h.sample("continuum_monitor_rollout_traffic_share", {"pipeline": PIPELINE}) == 0.2
    champion_frame, candidate_frame = traffic(4 * MIN, seed=5), traffic(MIN, seed=6)
    shuffled = np.random.default_rng(0).permutation(candidate_frame["proba"].to_numpy())
    champion = _batch(champion_frame, version=1, arm="champion", prefix="h", inference_seconds=0.24)
    candidate = _batch(
        candidate_frame,
        version=2,
        arm="candidate",
        prefix="c",
        proba=shuffled,
        inference_seconds=0.12,
        errors=2,
    )
    for batch in (champion, candidate, candidate):  # the candidate's batch redelivered
        await h.monitor.on_prediction_batch(batch)
    await _label(h, "h", _truth(champion_frame))
    assert _evaluations(h) == []  # the candidate has no labels yet
    await _label(h, "c", _truth(candidate_frame)[: MIN - 1])
    assert _evaluations(h) == []
    await _label(h, "c", _truth(candidate_frame)[MIN - 1 :])
    await _label(h, "c", _truth(candidate_frame))  # redelivered labels: nothing more
    [evaluated] = _evaluations(h)
    expected = roc_auc(_truth(champion_frame) == 1, champion_frame["proba"].to_numpy())
    assert (evaluated.rollout_id, evaluated.step, evaluated.metric) == ("ro-1", 0, "roc_auc")
    assert (evaluated.candidate_rows, evaluated.champion_rows) == (MIN, 4 * MIN)
    assert evaluated.champion_value == pytest.approx(expected)
    assert evaluated.candidate_value < evaluated.champion_value - 0.1  # shuffled: near 0.5
    assert evaluated.candidate_std_error > evaluated.champion_std_error > 0
    assert evaluated.candidate_error_rate == pytest.approx(2 / (MIN + 2))
    assert evaluated.candidate_latency_ms == pytest.approx(2.0)  # 0.12 s over 60 records
    assert evaluated.champion_latency_ms == pytest.approx(1.0)
    arm = {"pipeline": PIPELINE, "model_version": "1", "arm": "champion"}
    assert h.sample("continuum_monitor_rollout_metric", arm) == pytest.approx(expected)
    arm = {"pipeline": PIPELINE, "model_version": "2", "arm": "candidate"}
    assert h.sample("continuum_monitor_rollout_labelled_predictions", arm) == MIN
    # The champion's own quality still counts its answers; the candidate's count as v2's.
    assert (
        h.sample("continuum_monitor_feedback_total", {"pipeline": PIPELINE, "outcome": "joined"})
        == 5 * MIN
    )


async def test_a_shadow_is_compared_on_the_same_requests_and_kept_out_of_the_champion(
    tmp_path: Any,
) -> None:
    h = harness(tmp_path, spec=_spec("shadow"))
    await h.monitor.bootstrap()
    await h.monitor.on_rollout(_change(strategy="shadow", traffic_share=0.0))
    frame = traffic(MIN, seed=7)
    await h.monitor.on_prediction_batch(_batch(frame, version=1, arm="champion", prefix="r"))
    await h.monitor.on_prediction_batch(_batch(frame, version=2, arm="shadow", prefix="r"))
    await _label(h, "r", _truth(frame))
    [evaluated] = _evaluations(h)
    assert evaluated.candidate_rows == evaluated.champion_rows == MIN
    assert evaluated.candidate_value == pytest.approx(evaluated.champion_value)
    # Shadow answers were never returned: only the champion's joined its quality.
    assert (
        h.sample("continuum_monitor_feedback_total", {"pipeline": PIPELINE, "outcome": "joined"})
        == MIN
    )
    assert (
        h.sample(
            "continuum_monitor_quality_window_rows", {"pipeline": PIPELINE, "model_version": "2"}
        )
        is None
    )


async def test_only_the_live_steps_predictions_count(tmp_path: Any) -> None:
    h = harness(tmp_path, spec=_spec())
    await h.monitor.bootstrap()
    frame = traffic(MIN, seed=8)
    truth = _truth(frame)
    await h.monitor.on_rollout(_change())
    before = STEP_START - timedelta(seconds=1)
    for batch in (
        _batch(frame, version=1, arm="champion", prefix="old", at=before),  # before the step
        _batch(frame, version=1, arm="champion", prefix="other", rollout_id="ro-0"),
        _batch(frame, version=1, arm="champion", prefix="none", rollout_id=None),
        _batch(frame, version=2, arm="candidate", prefix="c"),
    ):
        await h.monitor.on_prediction_batch(batch)
    for prefix in ("old", "other", "none", "c"):
        await _label(h, prefix, truth)
    assert _evaluations(h) == []  # no champion predictions of this step
    # The next step starts empty; a step's end forgets it and its gauges.
    await h.monitor.on_rollout(_change(step=1, state="advanced", occurred_at=datetime.now(UTC)))
    watch = h.monitor.rollouts.steps[PIPELINE]
    assert watch.step == 1 and all(not a.pairs for a in watch.arms.values())
    await h.monitor.on_rollout(_change(step=1, state="rolled_back"))
    assert PIPELINE not in h.monitor.rollouts.steps
    assert h.sample("continuum_monitor_rollout_traffic_share", {"pipeline": PIPELINE}) == 0.0
    labels = {"pipeline": PIPELINE, "model_version": "2", "arm": "candidate"}
    assert h.sample("continuum_monitor_rollout_labelled_predictions", labels) is None


async def test_a_restarted_monitor_follows_the_registrys_live_rollout(tmp_path: Any) -> None:
    h = harness(tmp_path, spec=_spec())
    h.registry.set_rollout(PIPELINE, rollout_id="ro-9", step=1, traffic_share=0.5, state="advanced")
    await h.monitor.bootstrap()
    watch = h.monitor.rollouts.steps[PIPELINE]
    assert (watch.rollout_id, watch.step, watch.traffic_share) == ("ro-9", 1, 0.5)


async def test_model_time_is_compared_per_request_not_per_record(tmp_path: Any) -> None:
    # Ten requests of 20 records split by a 20% canary: each arm's part is one pipeline
    # call of about the same time (per-call overhead dominates), so an identical model must
    # not look 4x slower for answering 4 records of each request instead of 16.
    h = harness(tmp_path, spec=_spec())
    await h.monitor.bootstrap()
    await h.monitor.on_rollout(_change())
    frame = traffic(200, seed=7)
    champion = _batch(frame.iloc[:160], version=1, arm="champion", prefix="x")
    candidate = _batch(frame.iloc[160:], version=2, arm="candidate", prefix="x")
    requests = [f"r{i}" for i in range(10)]
    champion = champion.model_copy(
        update={
            "inference_seconds": 0.01,
            "predictions": [
                p.model_copy(update={"request_id": requests[i // 16]})
                for i, p in enumerate(champion.predictions)
            ],
        }
    )
    candidate = candidate.model_copy(
        update={
            "inference_seconds": 0.01,
            "predictions": [
                p.model_copy(update={"request_id": requests[i // 4]})
                for i, p in enumerate(candidate.predictions)
            ],
        }
    )
    await h.monitor.on_prediction_batch(champion)
    await h.monitor.on_prediction_batch(candidate)
    watch = h.monitor.rollouts.steps[PIPELINE]
    assert watch.arms["champion"].latency_ms() == pytest.approx(1.0)  # 10 ms over 10 requests
    assert watch.arms["candidate"].latency_ms() == pytest.approx(1.0)
