"""The collector's throughput settings: frozen start-up heap, rarer young collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from continuum.runtime import tune_gc_for_throughput


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_the_heap_so_far_is_frozen_and_young_collections_come_later() -> None:
    gc.unfreeze()
    kept = [object() for _ in range(10)]  # alive at "start-up"
    tune_gc_for_throughput(50_000)
    assert gc.get_threshold() == (50_000, 50, 100)
    assert gc.get_freeze_count() > len(kept)
    # Objects made afterwards are tracked as usual (the collector still finds cycles).
    cycle: list[object] = []
    cycle.append(cycle)
    assert gc.is_tracked(cycle)


@pytest.mark.usefixtures("restored_gc")
def test_zero_leaves_the_collector_as_it_is() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    tune_gc_for_throughput(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
