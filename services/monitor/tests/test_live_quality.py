"""The champion's live quality: tumbling windows of labelled predictions -> QualityMeasured."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from monitor_testkit import (
    PIPELINE,
    T0,
    RecordingDetector,
    harness,
    make_spec,
    predictions,
    put_artifacts,
    reference_frame,
    registry_promotes,
    traffic,
)

from continuum.contracts import Feedback, QualityMeasured
from continuum.modelkit.metric_noise import auc_std_error
from continuum.monitor.live_quality import measure
from continuum.monitor.quality import LoggedPrediction, roc_auc
from continuum.runtime import TransientError

WINDOW = 200


def _quality(published: list[object]) -> list[QualityMeasured]:
    return [e for e in published if isinstance(e, QualityMeasured)]


def _truth(frame, seed: int = 3) -> np.ndarray:  # type: ignore[no-untyped-def]
    # A noisy truth: the model ranks well but not perfectly.
    rng = np.random.default_rng(seed)
    return ((frame["n0"] + frame["n1"] + rng.normal(0, 1.5, len(frame))) > 0).astype(int).to_numpy()


def test_regression_window_has_rmse_mae_r2_and_their_errors() -> None:
    rng = np.random.default_rng(0)
    actual = rng.normal(10, 3, 400)
    predicted = actual + rng.normal(0, 1, 400)
    pairs = [
        (LoggedPrediction(1, float(p), None, at=T0 + timedelta(seconds=i)), float(a))
        for i, (p, a) in enumerate(zip(predicted, actual, strict=True))
    ]
    measured = measure("regression", "rmse", pairs)
    assert measured is not None
    error = predicted - actual
    assert measured.value == pytest.approx(math.sqrt((error**2).mean()))
    assert 0 < measured.std_error < 0.1
    assert measured.metrics["mae"] == pytest.approx(np.abs(error).mean())
    assert measured.metrics["r2"] == pytest.approx(1 - (error**2).mean() / actual.var())
    assert (measured.window_start, measured.window_end) == (T0, T0 + timedelta(seconds=399))
    mae = measure("regression", "mae", pairs)
    assert mae is not None
    assert mae.std_error == pytest.approx(np.abs(error).std(ddof=1) / math.sqrt(400))


async def test_a_full_window_of_labelled_champion_predictions_emits_one_measurement(
    tmp_path,
) -> None:
    spec = make_spec(window_rows=WINDOW, threshold=0.3)
    h = harness(tmp_path, spec=spec, detector=RecordingDetector(share=0.5))
    await h.monitor.bootstrap()
    frame = traffic(WINDOW + 20, seed=5)
    truth = _truth(frame)
    events = predictions(frame, version=1)
    for event in events:
        await h.monitor.on_prediction(event)
    for event, label in zip(events, truth, strict=True):
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, entity_id=event.entity_id, label=int(label))
        )

    (measured,) = _quality(h.published)
    expected = roc_auc(truth[:WINDOW] == 1, frame["proba"].to_numpy()[:WINDOW])
    assert expected is not None
    n_pos = int(truth[:WINDOW].sum())
    assert measured.metric == "roc_auc"
    assert measured.rows == WINDOW
    assert measured.model_version == 1
    assert measured.value == pytest.approx(expected)
    assert measured.std_error == pytest.approx(auc_std_error(expected, n_pos, WINDOW - n_pos))
    assert 0.005 < measured.std_error < 0.1
    assert measured.metrics["accuracy"] == pytest.approx(
        float((frame["prediction"].to_numpy()[:WINDOW] == truth[:WINDOW]).mean())
    )
    assert {"f1", "log_loss"} <= set(measured.metrics)
    assert measured.window_start == T0
    assert measured.window_end == T0 + timedelta(seconds=WINDOW - 1)
    # The drift window (200 predictions, share 0.5 >= 0.3) is attached.
    assert measured.drift_share == 0.5
    assert measured.drifted is True
    labels = {"pipeline": PIPELINE, "model_version": "1", "metric": "roc_auc"}
    assert h.sample("continuum_monitor_live_metric", labels) == pytest.approx(expected)
    assert h.sample("continuum_monitor_live_metric_std_error", labels) == pytest.approx(
        measured.std_error
    )
    outcome = {"pipeline": PIPELINE, "outcome": "measured"}
    assert h.sample("continuum_monitor_quality_windows_total", outcome) == 1


async def test_predictions_of_another_version_do_not_count(tmp_path) -> None:
    h = harness(tmp_path, spec=make_spec(window_rows=WINDOW), detector=RecordingDetector())
    await h.monitor.bootstrap()
    frame = traffic(WINDOW, seed=6)
    truth = _truth(frame)
    other = predictions(frame, version=2, prefix="other")  # a straggler or a challenger
    champion = predictions(frame.iloc[: WINDOW - 1], version=1)
    for event in other + champion:
        await h.monitor.on_prediction(event)
    for event, label in zip(other + champion, [*truth, *truth[: WINDOW - 1]], strict=True):
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=event.request_id, label=int(label))
        )

    assert _quality(h.published) == []
    live = h.monitor.pipelines[PIPELINE].live
    assert live is not None and len(live.pairs) == WINDOW - 1


async def test_a_redelivered_feedback_does_not_count_twice(tmp_path) -> None:
    h = harness(tmp_path, spec=make_spec(window_rows=WINDOW), detector=RecordingDetector())
    await h.monitor.bootstrap()
    frame = traffic(WINDOW, seed=7)
    truth = _truth(frame)
    events = predictions(frame, version=1)
    for event in events:
        await h.monitor.on_prediction(event)
    feedback = [
        Feedback(pipeline=PIPELINE, request_id=e.request_id, label=int(t))
        for e, t in zip(events, truth, strict=True)
    ]
    for item in feedback[:100]:
        await h.monitor.on_feedback(item)
        await h.monitor.on_feedback(item)  # an at-least-once redelivery

    real_publish = h.monitor.publish
    refusals = [1]

    async def flaky(event):  # type: ignore[no-untyped-def]
        if refusals[0]:
            refusals[0] -= 1
            raise ConnectionError("kafka refused (fake)")
        await real_publish(event)

    h.monitor.publish = flaky
    for item in feedback[100:-1]:
        await h.monitor.on_feedback(item)
    with pytest.raises(TransientError):
        await h.monitor.on_feedback(feedback[-1])  # fills the window; the publish fails
    assert _quality(h.published) == []
    await h.monitor.on_feedback(feedback[-1])  # redelivered: only the publish is retried
    await h.monitor.on_feedback(feedback[-1])

    (measured,) = _quality(h.published)
    assert measured.rows == WINDOW
    live = h.monitor.pipelines[PIPELINE].live
    assert live is not None and live.pairs == []


async def test_one_class_windows_do_not_emit(tmp_path) -> None:
    h = harness(tmp_path, spec=make_spec(window_rows=WINDOW), detector=RecordingDetector())
    await h.monitor.bootstrap()
    events = predictions(traffic(WINDOW, seed=8), version=1)
    for event in events:
        await h.monitor.on_prediction(event)
    for event in events:
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=event.request_id, label=1)
        )

    assert _quality(h.published) == []
    outcome = {"pipeline": PIPELINE, "outcome": "undefined"}
    assert h.sample("continuum_monitor_quality_windows_total", outcome) == 1
    live = h.monitor.pipelines[PIPELINE].live
    assert live is not None and live.pairs == []


async def test_a_new_champion_starts_a_fresh_window(tmp_path) -> None:
    h = harness(tmp_path, spec=make_spec(window_rows=WINDOW), detector=RecordingDetector())
    await h.monitor.bootstrap()
    frame = traffic(WINDOW, seed=9)
    truth = _truth(frame)
    old = predictions(frame, version=1, prefix="old")
    for event in old:
        await h.monitor.on_prediction(event)
    for event, label in zip(old[:150], truth[:150], strict=True):
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=event.request_id, label=int(label))
        )
    artifacts = put_artifacts(h.store, 2, reference_frame())
    await h.monitor.on_promotion(registry_promotes(h.registry, 2, artifacts))
    new = predictions(frame, version=2, prefix="new")
    for event in new:
        await h.monitor.on_prediction(event)
    # The old champion's late labels and 150 of the new one's: no window is full.
    for event, label in [
        *zip(old[150:], truth[150:], strict=True),
        *zip(new[:150], truth[:150], strict=True),
    ]:
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=event.request_id, label=int(label))
        )
    assert _quality(h.published) == []
    for event, label in zip(new[150:], truth[150:], strict=True):
        await h.monitor.on_feedback(
            Feedback(pipeline=PIPELINE, request_id=event.request_id, label=int(label))
        )
    (measured,) = _quality(h.published)
    assert measured.model_version == 2
    assert measured.rows == WINDOW
