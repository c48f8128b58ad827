"""Windows of the champion's predictions: fill, evaluate, reset on promotion, ignore others."""

from __future__ import annotations

from datetime import timedelta

import pytest
from monitor_testkit import (
    PIPELINE,
    T0,
    RecordingDetector,
    harness,
    make_spec,
    predictions,
    promotion,
    put_artifacts,
    reference_frame,
    registry_promotes,
    traffic,
)

from continuum.monitor.windows import PredictionWindow, WindowRow
from continuum.runtime import is_transient
from continuum.storage import IntegrityError


def test_window_hands_over_full_windows_and_starts_again() -> None:
    window = PredictionWindow(model_version=1, size=3)
    rows = [WindowRow({"x": i}, 0, at=T0 + timedelta(seconds=i)) for i in range(7)]

    results = [window.add(row) for row in rows]

    full = [r for r in results if r is not None]
    assert len(full) == 2
    assert [row.features["x"] for row in full[0].rows] == [0, 1, 2]
    assert [row.features["x"] for row in full[1].rows] == [3, 4, 5]
    assert window.fill_ratio == pytest.approx(1 / 3)


async def test_full_window_is_evaluated_and_fill_ratio_exported(tmp_path) -> None:
    detector = RecordingDetector(share=0.0)
    h = harness(tmp_path, spec=make_spec(window_rows=50), detector=detector)
    await h.monitor.bootstrap()
    events = predictions(traffic(120), version=1)

    for event in events[:49]:
        await h.monitor.on_prediction(event)
    assert detector.windows == []
    assert h.sample("continuum_monitor_window_fill_ratio", {"pipeline": PIPELINE}) == 0.98

    for event in events[49:]:
        await h.monitor.on_prediction(event)

    assert len(detector.windows) == 2
    assert all(len(w) == 50 for w in detector.windows)
    assert h.sample("continuum_monitor_windows_evaluated_total", {"pipeline": PIPELINE}) == 2
    assert h.sample("continuum_monitor_window_fill_ratio", {"pipeline": PIPELINE}) == 0.4
    assert (
        h.sample("continuum_monitor_drift_share", {"pipeline": PIPELINE, "model_version": "1"})
        == 0.0
    )
    assert h.published == []


async def test_predictions_of_other_versions_are_ignored(tmp_path) -> None:
    detector = RecordingDetector()
    h = harness(tmp_path, spec=make_spec(window_rows=50), detector=detector)
    await h.monitor.bootstrap()

    for event in predictions(traffic(60), version=2, prefix="other"):
        await h.monitor.on_prediction(event)
    for event in predictions(traffic(30), version=1):
        await h.monitor.on_prediction(event)

    assert detector.windows == []
    labels = {"pipeline": PIPELINE, "outcome": "ignored_other_version"}
    assert h.sample("continuum_monitor_predictions_total", labels) == 60
    assert h.sample("continuum_monitor_window_fill_ratio", {"pipeline": PIPELINE}) == 0.6


async def test_promotion_starts_a_fresh_window_for_the_new_version(tmp_path) -> None:
    detector = RecordingDetector()
    h = harness(tmp_path, spec=make_spec(window_rows=50), detector=detector)
    await h.monitor.bootstrap()
    for event in predictions(traffic(40), version=1):
        await h.monitor.on_prediction(event)

    artifacts = put_artifacts(h.store, 2, reference_frame(seed=9))
    promoted = registry_promotes(h.registry, 2, artifacts)
    await h.monitor.on_promotion(promoted)

    state = h.monitor.pipelines[PIPELINE]
    assert state.champion is not None and state.champion.version == 2
    assert state.champion.correlation_id == promoted.correlation_id
    assert state.champion.reference is not None and len(state.champion.reference) == 5000
    assert h.sample("continuum_monitor_window_fill_ratio", {"pipeline": PIPELINE}) == 0.0

    for event in predictions(traffic(30), version=1, prefix="late-v1"):
        await h.monitor.on_prediction(event)  # the old champion's stragglers
    for event in predictions(traffic(50), version=2, prefix="v2"):
        await h.monitor.on_prediction(event)

    assert len(detector.windows) == 1  # only v2's 50 rows: v1's 40 + 30 never completed one


async def test_replayed_older_promotion_does_not_switch_back(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    await h.monitor.bootstrap()  # the registry says v1 is the champion now
    old = promotion(
        7, put_artifacts(h.store, 7, reference_frame()), at=h.clock[0] - timedelta(hours=1)
    )

    await h.monitor.on_promotion(old)

    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 1


async def test_duplicate_prediction_is_counted_once(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    await h.monitor.bootstrap()
    event = predictions(traffic(1), version=1)[0]

    await h.monitor.on_prediction(event)
    await h.monitor.on_prediction(event)

    assert len(h.monitor.pipelines[PIPELINE].window.rows) == 1  # type: ignore[union-attr]
    assert h.sample("continuum_monitor_duplicate_events_total", {"topic": "predictions"}) == 1


async def test_corrupt_reference_fails_the_promotion_but_the_switch_holds(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    await h.monitor.bootstrap()
    artifacts = put_artifacts(h.store, 2, reference_frame())
    tampered = artifacts.model_copy(
        update={
            "reference_sample": artifacts.reference_sample.model_copy(update={"sha256": "0" * 64})
        }
    )

    with pytest.raises(IntegrityError):
        await h.monitor.on_promotion(registry_promotes(h.registry, 2, tampered))

    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 2 and champion.reference is None


async def test_bootstrap_retries_while_registry_is_unreachable(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    h.registry.unreachable_calls = 3

    await h.monitor.bootstrap()

    assert h.monitor.ready.is_set()
    assert h.monitor.pipelines[PIPELINE].champion is not None
    assert (await h.monitor.health())["status"] == "ok"


async def test_pipeline_applied_later_is_fetched_on_change(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector(), champion=None)
    h.registry.specs.clear()
    await h.monitor.bootstrap()
    assert h.monitor.pipelines == {}

    from continuum.contracts import PipelineChanged

    spec = make_spec(window_rows=80, threshold=0.5)
    version = h.registry.apply(spec)
    await h.monitor.on_pipeline_changed(
        PipelineChanged(
            pipeline=PIPELINE,
            spec_version=version,
            spec_sha256=spec.sha256(),
            source_topic=spec.source_topic,
        )
    )
    assert h.monitor.pipelines[PIPELINE].policy.window_rows == 80

    newer = make_spec(window_rows=60, threshold=0.5)
    version = h.registry.apply(newer)
    await h.monitor.on_pipeline_changed(
        PipelineChanged(
            pipeline=PIPELINE,
            spec_version=version,
            spec_sha256=newer.sha256(),
            source_topic=newer.source_topic,
        )
    )
    assert h.monitor.pipelines[PIPELINE].policy.window_rows == 60


async def test_registry_outage_in_a_handler_is_transient(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    h.registry.specs.clear()
    await h.monitor.bootstrap()
    h.registry.apply(make_spec())
    h.monitor.directory._unknown.clear()
    h.registry.unreachable_calls = 1

    # ConnectionError is one of the broker factory's transient errors: redelivered, not DLQ'd.
    with pytest.raises(ConnectionError) as raised:
        await h.monitor.on_prediction(predictions(traffic(1), version=1)[0])
    assert is_transient(raised.value)


async def test_prediction_of_a_newer_version_asks_the_registry_before_the_promotion(
    tmp_path,
) -> None:
    detector = RecordingDetector()
    h = harness(tmp_path, spec=make_spec(window_rows=50), detector=detector)
    await h.monitor.bootstrap()
    artifacts = put_artifacts(h.store, 2, reference_frame(seed=4))
    promoted = registry_promotes(h.registry, 2, artifacts)  # its event is still on the way

    for event in predictions(traffic(50), version=2):
        await h.monitor.on_prediction(event)
    assert len(detector.windows) == 1

    await h.monitor.on_promotion(promoted)  # arrives late: no fresh window, same model

    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 2
    assert champion.correlation_id == promoted.correlation_id
    assert champion.reference is not None
