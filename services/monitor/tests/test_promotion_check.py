"""The monitor acts on a promotion only when the registry names that version the champion."""

from __future__ import annotations

import pytest
from monitor_testkit import (
    PIPELINE,
    RecordingDetector,
    harness,
    predictions,
    promotion,
    put_artifacts,
    reference_frame,
    registry_promotes,
    traffic,
)

from continuum.runtime import is_transient

IGNORED = "continuum_monitor_promotions_ignored_total"


async def test_a_forged_promotion_moves_nobody(tmp_path) -> None:
    detector = RecordingDetector()
    h = harness(tmp_path, detector=detector)
    await h.monitor.bootstrap()  # the registry's champion is v1
    for event in predictions(traffic(40), version=1):
        await h.monitor.on_prediction(event)

    # Version 99 does not exist; version 2 exists but the registry did not promote it.
    await h.monitor.on_promotion(promotion(99, put_artifacts(h.store, 99, reference_frame())))
    h.registry.add_model(PIPELINE, 2, put_artifacts(h.store, 2, reference_frame()))
    await h.monitor.on_promotion(promotion(2, put_artifacts(h.store, 2, reference_frame())))

    state = h.monitor.pipelines[PIPELINE]
    assert state.champion is not None and state.champion.version == 1
    assert state.window is not None and len(state.window.rows) == 40  # window kept
    assert h.sample(IGNORED, {"pipeline": PIPELINE}) == 2


async def test_a_promotion_overtaken_by_a_newer_one_is_ignored(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    await h.monitor.bootstrap()
    v2 = registry_promotes(h.registry, 2, put_artifacts(h.store, 2, reference_frame()))
    v3 = registry_promotes(h.registry, 3, put_artifacts(h.store, 3, reference_frame(seed=5)))

    await h.monitor.on_promotion(v2)  # the registry has moved on to v3 already
    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 1
    await h.monitor.on_promotion(v3)
    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 3
    assert h.sample(IGNORED, {"pipeline": PIPELINE}) == 1


async def test_the_reference_comes_from_the_registry_not_the_event(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    await h.monitor.bootstrap()
    stored = put_artifacts(h.store, 2, reference_frame(n=300))
    event = registry_promotes(h.registry, 2, stored)
    other = put_artifacts(h.store, 8, reference_frame(n=10))
    forged = event.model_copy(update={"artifacts": other})

    await h.monitor.on_promotion(forged)

    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 2
    assert champion.reference_sample == stored.reference_sample
    assert champion.reference is not None and len(champion.reference) == 300


async def test_an_unreachable_registry_makes_the_promotion_redeliverable(tmp_path) -> None:
    h = harness(tmp_path, detector=RecordingDetector())
    await h.monitor.bootstrap()
    event = registry_promotes(h.registry, 2, put_artifacts(h.store, 2, reference_frame()))
    h.registry.unreachable_calls = 1

    with pytest.raises(ConnectionError) as raised:
        await h.monitor.on_promotion(event)
    assert is_transient(raised.value)
    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 1

    await h.monitor.on_promotion(event)  # the redelivery is checked and applied
    champion = h.monitor.pipelines[PIPELINE].champion
    assert champion is not None and champion.version == 2
