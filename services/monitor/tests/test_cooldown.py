"""At most one DriftDetected per cooldown per pipeline; the last-fired time survives restarts."""

from __future__ import annotations

import json
from datetime import timedelta

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

from continuum.contracts import DriftDetected, Event
from continuum.monitor.cooldown import STATE_FILE, CooldownStore, LastFired


def test_cooldown_store_survives_a_restart(tmp_path) -> None:
    store = CooldownStore(tmp_path)
    assert store.allows(PIPELINE, T0, 300)
    store.record(PIPELINE, LastFired(at=T0, model_version=3, event_id="e-1"))

    reopened = CooldownStore(tmp_path)

    assert reopened.last_fired(PIPELINE) == LastFired(at=T0, model_version=3, event_id="e-1")
    assert not reopened.allows(PIPELINE, T0 + timedelta(seconds=299), 300)
    assert reopened.allows(PIPELINE, T0 + timedelta(seconds=300), 300)
    assert reopened.allows("other", T0, 300)
    assert [p.name for p in tmp_path.iterdir()] == [STATE_FILE]  # no temp files left


def test_damaged_state_file_is_ignored(tmp_path) -> None:
    (tmp_path / STATE_FILE).write_text("{not json")
    assert CooldownStore(tmp_path).last_fired(PIPELINE) is None
    (tmp_path / STATE_FILE).write_text(json.dumps({PIPELINE: {"at": "yesterday"}}))
    assert CooldownStore(tmp_path).last_fired(PIPELINE) is None


def _drift(events: list[Event]) -> list[DriftDetected]:
    return [e for e in events if isinstance(e, DriftDetected)]


async def test_drift_fires_once_within_cooldown_then_again_after_it(tmp_path) -> None:
    h = harness(
        tmp_path, spec=make_spec(window_rows=50, cooldown=600), detector=RecordingDetector(0.5)
    )
    await h.monitor.bootstrap()
    batches = [predictions(traffic(50), version=1, prefix=f"w{i}") for i in range(3)]

    for event in batches[0] + batches[1]:
        await h.monitor.on_prediction(event)
    assert len(_drift(h.published)) == 1
    labels = {"pipeline": PIPELINE, "reason": "cooldown"}
    assert h.sample("continuum_monitor_drift_suppressed_total", labels) == 1

    h.clock[0] += timedelta(seconds=601)
    for event in batches[2]:
        await h.monitor.on_prediction(event)

    assert len(_drift(h.published)) == 2
    assert h.sample("continuum_monitor_drift_events_total", {"pipeline": PIPELINE}) == 2


async def test_cooldown_holds_across_a_restart_and_a_promotion(tmp_path) -> None:
    spec = make_spec(window_rows=50, cooldown=600)
    first = harness(tmp_path, spec=spec, detector=RecordingDetector(0.5))
    await first.monitor.bootstrap()
    for event in predictions(traffic(50), version=1):
        await first.monitor.on_prediction(event)
    assert len(_drift(first.published)) == 1

    # A new process with the same state folder, and a new champion straight away.
    second = harness(tmp_path, spec=spec, detector=RecordingDetector(0.5))
    await second.monitor.bootstrap()
    await second.monitor.on_promotion(
        registry_promotes(second.registry, 2, put_artifacts(second.store, 2, reference_frame()))
    )
    for event in predictions(traffic(50), version=2, prefix="v2"):
        await second.monitor.on_prediction(event)

    assert _drift(second.published) == []
    labels = {"pipeline": PIPELINE, "reason": "cooldown"}
    assert second.sample("continuum_monitor_drift_suppressed_total", labels) == 1


async def test_below_threshold_never_fires(tmp_path) -> None:
    h = harness(
        tmp_path, spec=make_spec(window_rows=50, threshold=0.6), detector=RecordingDetector(0.5)
    )
    await h.monitor.bootstrap()
    for event in predictions(traffic(100), version=1):
        await h.monitor.on_prediction(event)
    assert h.published == []
    assert h.sample("continuum_monitor_windows_evaluated_total", {"pipeline": PIPELINE}) == 2


async def test_refused_publish_is_retried_before_the_next_prediction(tmp_path) -> None:
    h = harness(tmp_path, spec=make_spec(window_rows=50), detector=RecordingDetector(0.5))
    await h.monitor.bootstrap()
    real_publish = h.monitor.publish
    attempts: list[Event] = []

    async def down(event: Event) -> None:
        attempts.append(event)
        raise OSError("kafka is away")

    h.monitor.publish = down
    events = predictions(traffic(51), version=1)
    for event in events[:49]:
        await h.monitor.on_prediction(event)
    try:
        await h.monitor.on_prediction(events[49])
    except Exception as exc:
        from continuum.runtime import is_transient

        assert is_transient(exc)
    else:
        raise AssertionError("a refused publish must fail the handler (redelivery)")

    h.monitor.publish = real_publish
    await h.monitor.on_prediction(events[49])  # the redelivery: the row is not added twice
    drift = _drift(h.published)
    assert len(drift) == 1 and drift[0].event_id == attempts[0].event_id
    assert len(h.monitor.pipelines[PIPELINE].window.rows) == 0  # type: ignore[union-attr]
