"""Feature views at ingest: fold per batch, windows, replay and restart, the offline log."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from ingest_testkit import Harness, good, make_record, make_spec

from continuum.contracts import DataBatchReady, PipelineSpec
from continuum.featurestore import MemoryOnlineStore, view_key
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.ports import SourceMessage
from continuum.modelkit.feature_views import view_values_as_of

TP0 = TopicPartition("flights.raw", 0)
VIEWS = [
    {
        "name": "carrier_recent",
        "entity": "carrier",
        "window_events": 2,
        "features": [
            {"name": "carrier_distance_mean", "function": "mean", "column": "distance"},
            {"name": "carrier_events", "function": "count"},
            {"name": "carrier_last_origin", "function": "latest", "column": "origin"},
        ],
    },
    {
        "name": "carrier_hour",
        "entity": "carrier",
        "window_seconds": 7200,
        "features": [
            {"name": "carrier_late_sum", "function": "sum", "column": "late"},
            {"name": "carrier_hour_min", "function": "min", "column": "dep_hour", "default": -1},
        ],
    },
    {
        "name": "flight_all",
        "entity": "flight_id",
        "features": [
            {"name": "flight_distance_max", "function": "max", "column": "distance"},
            {"name": "flight_late_mean", "function": "mean", "column": "late"},
            {"name": "flight_events", "function": "count", "column": "dep_hour"},
        ],
    },
]


def stream() -> list[dict[str, Any]]:
    """Two carriers, flights repeating, hours out of order, a missing dep_hour."""
    start = pd.Timestamp("2013-01-01T05:00:00")
    records = []
    for i in range(14):
        at = start + timedelta(minutes=37 * i - (50 if i % 5 == 3 else 0))
        records.append(
            good(
                carrier="UA" if i % 3 else "AA",
                flight_id=f"F{i % 4}",
                distance=float(100 + 10 * i),
                dep_hour=None if i == 6 else i % 24,
                origin=["JFK", "LGA", "EWR"][i % 3],
                late=i % 2,
                time_hour=at.isoformat(),
            )
        )
    return records


def messages(records: list[dict[str, Any]], start: int = 0) -> list[SourceMessage]:
    return [
        SourceMessage(TP0.topic, 0, start + i, json.dumps(r).encode())
        for i, r in enumerate(records)
    ]


def spec() -> PipelineSpec:
    return make_spec(feature_views=VIEWS)


def attach(h: Harness, state_dir: Path, online: MemoryOnlineStore) -> FeatureViewWriter:
    writer = FeatureViewWriter(state_dir=state_dir, store=h.store, online=online)
    h.engine.features = writer
    return writer


async def run(h: Harness, records: list[dict[str, Any]], start: int = 0) -> None:
    await h.engine.install(make_record(spec()))
    await h.engine.on_assigned([TP0])
    await h.engine.handle(messages(records, start))
    await h.engine.flush_all()


def expected(records: list[dict[str, Any]], view: int) -> dict[str, dict[str, Any]]:
    """The reference definition as of just after each entity's newest event."""
    frame = pd.DataFrame(records)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    definition = spec().feature_views[view]
    out = {}
    for entity, group in frame.groupby(definition.entity):
        at = group["time_hour"].max() + pd.Timedelta(microseconds=1)
        values = view_values_as_of(frame, definition, at, time_column="time_hour")
        out[str(entity)] = values[str(entity)]
    return out


def online_values(online: MemoryOnlineStore, view: int, entities: list[str]) -> dict[str, Any]:
    name = spec().feature_views[view].name
    rows = online.read(view_key("flights", name), entities)
    return {e: row.values for e, row in rows.items()}


def assert_matches_reference(online: MemoryOnlineStore, records: list[dict[str, Any]]) -> None:
    for view in range(len(VIEWS)):
        want = expected(records, view)
        got = online_values(online, view, list(want))
        assert set(got) == set(want)
        for entity, values in want.items():
            assert got[entity] == pytest.approx(values, nan_ok=True), (view, entity)


@pytest.fixture
def h(harness_factory: Callable[[], Harness]) -> Harness:
    return harness_factory()


async def test_online_values_equal_the_reference_as_of_the_last_event(
    h: Harness, tmp_path: Path
) -> None:
    online = MemoryOnlineStore()
    attach(h, tmp_path, online)
    records = stream()
    await run(h, records)
    assert_matches_reference(online, records)
    row = online.read(view_key("flights", "carrier_recent"), ["UA"])["UA"]
    assert row.values["carrier_events"] == 2.0  # window_events: 2
    assert isinstance(row.values["carrier_last_origin"], str)


async def test_the_offline_log_holds_each_batch_rows_with_event_times(
    h: Harness, tmp_path: Path
) -> None:
    attach(h, tmp_path, MemoryOnlineStore())
    await run(h, stream())
    batches = h.publisher.of_type(DataBatchReady)
    keys = h.store.list("features/flights/carrier_recent/")
    assert sorted(keys) == sorted(
        f"features/flights/carrier_recent/{b.batch_id}.parquet" for b in batches
    )
    table = pq.read_table(io.BytesIO(h.store.get(h.store.uri_for(keys[0]))))
    assert table.column_names == [
        "entity",
        "as_of",
        "carrier_distance_mean",
        "carrier_events",
        "carrier_last_origin",
    ]
    assert str(table.schema.field("as_of").type) == "timestamp[us, tz=UTC]"


async def test_a_replayed_batch_is_not_counted_twice(h: Harness, tmp_path: Path) -> None:
    online = MemoryOnlineStore()
    writer = attach(h, tmp_path, online)
    records = stream()
    await run(h, records)
    batch = h.publisher.of_type(DataBatchReady)[-1]
    table = pq.read_table(io.BytesIO(h.store.get(batch.storage.uri)))
    assert writer.fold_batch(spec(), batch, table) == 0
    assert writer.recover(spec(), batch) == 0
    assert_matches_reference(online, records)


async def test_state_survives_a_restart(h: Harness, tmp_path: Path) -> None:
    online = MemoryOnlineStore()
    records = stream()
    attach(h, tmp_path, online)
    await run(h, records[:7])
    again = h.restart()
    attach(again, tmp_path, online)
    await run(again, records[7:], start=7)
    assert_matches_reference(online, records)


async def test_a_crash_between_the_write_and_the_fold_is_folded_on_restart(
    h: Harness, tmp_path: Path
) -> None:
    online = MemoryOnlineStore()
    records = stream()[:12]  # four whole batches (flush_rows: 3)
    await run(h, records)  # no writer attached: the batches are written, never folded
    assert online_values(online, 0, ["UA"]) == {}
    again = h.restart()
    writer = attach(again, tmp_path, online)
    await run(again, [], start=12)
    # No state at all: every stored batch of the lane is folded when it opens.
    assert writer.folded_offset(spec(), TP0.topic, 0) == 11
    assert_matches_reference(online, records)


async def test_a_fold_that_fails_before_its_commit_leaves_the_kept_state_as_it_was(
    h: Harness, tmp_path: Path
) -> None:
    # The writer keeps committed states in memory: a fold that fails after folding in
    # memory (here at the online write) must not leave its new state there.
    online = MemoryOnlineStore()
    writer = attach(h, tmp_path, online)
    write, calls = online.write, {"n": 0}

    def flaky_write(view: str, rows: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 6:  # the second batch's last view (running counts)
            raise OSError("online store down")
        write(view, rows)

    online.write = flaky_write  # type: ignore[method-assign]
    records = stream()
    await h.engine.install(make_record(spec()))
    await h.engine.on_assigned([TP0])
    with pytest.raises(OSError, match="online store down"):
        await h.engine.handle(messages(records))  # returns once its writes started
        await h.engine.settle()
    assert writer.folded_offset(spec(), TP0.topic, 0) == 2
    targets = await h.engine.rewind()
    await h.engine.handle(messages(records[targets[TP0] :], start=targets[TP0]))
    await h.engine.flush_all()
    assert_matches_reference(online, records)
