"""Feedback joined to logged predictions, and quality per model version."""

from __future__ import annotations

import numpy as np
import pytest
from monitor_testkit import PIPELINE, RecordingDetector, harness, make_spec, predictions, traffic

from continuum.contracts import Feedback
from continuum.monitor.quality import LoggedPrediction, PredictionJoin, QualityWindow, roc_auc


def test_roc_auc_matches_the_textbook_example() -> None:
    positive = np.array([False, False, True, True])
    assert roc_auc(positive, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(np.array([False, True]), np.array([0.5, 0.5])) == pytest.approx(0.5)
    assert roc_auc(np.array([True, True]), np.array([0.2, 0.9])) is None


def test_join_is_bounded_and_forgets_joined_predictions() -> None:
    join = PredictionJoin(capacity=2)
    for i in range(3):
        join.remember(PIPELINE, f"r{i}", None, LoggedPrediction(1, i, None))

    assert join.pop(PIPELINE, "r0", None) is None  # evicted
    found = join.pop(PIPELINE, "r2", None)
    assert found is not None and found.prediction == 2
    assert join.pop(PIPELINE, "r2", None) is None


def test_regression_quality() -> None:
    window = QualityWindow("regression", size=3)
    for predicted, actual in [(1.0, 0.0), (2.0, 2.0), (3.0, 5.0), (4.0, 4.0)]:
        window.add(LoggedPrediction(1, predicted, None), actual)

    metrics = window.metrics()  # the last three pairs: errors 0, -2, 0

    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["rmse"] == pytest.approx((4 / 3) ** 0.5)


def test_classification_labels_of_any_json_type_agree() -> None:
    window = QualityWindow("binary_classification", size=10)
    window.add(LoggedPrediction(1, 1, {"0": 0.2, "1": 0.8}), True)
    window.add(LoggedPrediction(1, 0, {"0": 0.7, "1": 0.3}), "0")
    window.add(LoggedPrediction(1, 1, {"0": 0.4, "1": 0.6}), 0.0)

    metrics = window.metrics()

    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["roc_auc"] == pytest.approx(1.0)


async def test_feedback_joins_by_request_or_entity_and_updates_gauges(tmp_path) -> None:
    h = harness(tmp_path, spec=make_spec(window_rows=1000), detector=RecordingDetector())
    await h.monitor.bootstrap()
    frame = traffic(200, seed=11)
    events = predictions(frame, version=1)
    for event in events:
        await h.monitor.on_prediction(event)

    for i, event in enumerate(events):
        truth = int(frame["proba"].iloc[i] > 0.5)  # the model's own view: perfect ranking
        if i % 2:
            feedback = Feedback(pipeline=PIPELINE, request_id=event.request_id, label=truth)
        else:
            feedback = Feedback(pipeline=PIPELINE, entity_id=event.entity_id, label=truth)
        await h.monitor.on_feedback(feedback)
    await h.monitor.on_feedback(Feedback(pipeline=PIPELINE, request_id="never-seen", label=1))

    version = {"pipeline": PIPELINE, "model_version": "1"}
    expected_accuracy = float((frame["prediction"] == (frame["proba"] > 0.5)).mean())
    assert h.sample("continuum_monitor_model_quality", {**version, "metric": "accuracy"}) == (
        pytest.approx(expected_accuracy)
    )
    assert h.sample("continuum_monitor_model_quality", {**version, "metric": "roc_auc"}) == 1.0
    assert h.sample("continuum_monitor_quality_window_rows", version) == 200
    feedback = {"pipeline": PIPELINE, "outcome": "joined"}
    assert h.sample("continuum_monitor_feedback_total", feedback) == 200
    unmatched = {"pipeline": PIPELINE, "outcome": "unmatched"}
    assert h.sample("continuum_monitor_feedback_total", unmatched) == 1


async def test_quality_is_kept_per_model_version(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    await h.monitor.bootstrap()
    v1 = predictions(traffic(4), version=1, prefix="a")
    v2 = predictions(traffic(4), version=2, prefix="b")  # e.g. a challenger or a straggler
    for event in v1 + v2:
        await h.monitor.on_prediction(event)

    for event in v1:
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=event.request_id, label=event.prediction)
        )
    for event in v2:
        wrong = 1 - int(event.prediction)  # type: ignore[arg-type]
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=event.request_id, label=wrong)
        )

    def accuracy(version: str) -> float | None:
        labels = {"pipeline": PIPELINE, "model_version": version, "metric": "accuracy"}
        return h.sample("continuum_monitor_model_quality", labels)

    assert accuracy("1") == 1.0
    assert accuracy("2") == 0.0
