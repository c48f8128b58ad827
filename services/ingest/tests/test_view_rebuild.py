"""Feature views rebuilt from the stored batches: a lost database, an edited view, a crash
mid-rebuild, a batch missing from the store."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from ingest_testkit import Harness, make_record, make_spec
from test_feature_views import TP0, VIEWS, assert_matches_reference, messages, spec, stream

from continuum.contracts import DataBatchReady, FeatureView, PipelineSpec
from continuum.featurestore import FeatureRow, MemoryOnlineStore, view_key
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.modelkit.feature_views import view_values_as_of

ENTITIES = ["UA", "AA", "F0", "F1", "F2", "F3"]
EDITED = [
    VIEWS[0],
    {**VIEWS[1], "window_seconds": 3600},  # edited: a new definition, no state of its own
    VIEWS[2],
    {
        "name": "carrier_all",  # new
        "entity": "carrier",
        "features": [
            {"name": "carrier_all_events", "function": "count"},
            {"name": "carrier_distance_max", "function": "max", "column": "distance"},
        ],
    },
]


def writer_for(h: Harness, state_dir: Path, online: MemoryOnlineStore) -> FeatureViewWriter:
    writer = FeatureViewWriter(
        state_dir=state_dir, store=h.store, online=online, rebuild_log_every=2
    )
    h.engine.features = writer
    return writer


async def open_lane(h: Harness, pipeline_spec: PipelineSpec, version: int = 1) -> None:
    await h.engine.install(make_record(pipeline_spec, version))
    await h.engine.on_assigned([TP0])


async def feed(h: Harness, records: list[dict[str, Any]], start: int) -> None:
    await h.engine.handle(messages(records, start))
    await h.engine.flush_all()


def saved_state(state_dir: Path) -> tuple[dict[tuple[str, str], str], dict[str, int]]:
    """Every entity state and every view's watermark of a state database."""
    with sqlite3.connect(state_dir / "feature_views.db") as db:
        states = {(v, e): s for v, e, s in db.execute("SELECT view, entity, state FROM view_state")}
        marks = {v: o for v, o in db.execute("SELECT view, last_offset FROM view_folded")}
    return states, marks


def online_rows(online: MemoryOnlineStore, views: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        view["name"]: online.read(view_key("flights", view["name"]), ENTITIES) for view in views
    }


def offline_objects(h: Harness) -> dict[str, bytes]:
    return {k: h.store.objects[k] for k in h.store.list("features/")}  # type: ignore[attr-defined]


def reference(records: list[dict[str, Any]], view: FeatureView) -> dict[str, dict[str, Any]]:
    """The definition's values as of just after each entity's newest event."""
    frame = pd.DataFrame(records)
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    out = {}
    for entity, group in frame.groupby(view.entity):
        at = group["time_hour"].max() + pd.Timedelta(microseconds=1)
        out[str(entity)] = view_values_as_of(frame, view, at, time_column="time_hour")[str(entity)]
    return out


def assert_view_matches(
    online: MemoryOnlineStore, records: list[dict[str, Any]], view: FeatureView
) -> None:
    want = reference(records, view)
    got = online.read(view_key("flights", view.name), list(want))
    assert set(got) == set(want)
    for entity, values in want.items():
        assert got[entity].values == pytest.approx(values, nan_ok=True), (view.name, entity)


async def test_a_lost_state_database_is_rebuilt_from_the_stored_batches(
    harness_factory: Callable[[], Harness], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = stream()  # flush_rows 3: batches end at offsets 2, 5, 8 | 11, 13
    whole, whole_online = harness_factory(), MemoryOnlineStore()
    writer_for(whole, tmp_path / "whole", whole_online)
    await open_lane(whole, spec())
    await feed(whole, records, 0)

    h, online = harness_factory(), MemoryOnlineStore()
    writer_for(h, tmp_path / "lost", online)
    await open_lane(h, spec())
    await feed(h, records[:9], 0)
    live_offline, live_online = offline_objects(h), online_rows(online, VIEWS)
    for key in live_offline:  # folded again, they must come out the same
        del h.store.objects[key]  # type: ignore[attr-defined]

    again, rebuilt_online = h.restart(), MemoryOnlineStore()
    writer_for(again, tmp_path / "fresh", rebuilt_online)  # same object store, no state
    with caplog.at_level(logging.INFO):
        await open_lane(again, spec())
    assert saved_state(tmp_path / "fresh") == saved_state(tmp_path / "lost")
    assert online_rows(rebuilt_online, VIEWS) == live_online
    assert offline_objects(again) == live_offline
    assert any(m.endswith(": 2/3") for m in caplog.messages)  # progress, every 2 batches

    await feed(again, records[9:], 9)  # new records fold on top of the rebuilt state
    assert saved_state(tmp_path / "fresh") == saved_state(tmp_path / "whole")
    assert online_rows(rebuilt_online, VIEWS) == online_rows(whole_online, VIEWS)
    assert offline_objects(again) == offline_objects(whole)
    assert_matches_reference(rebuilt_online, records)


async def test_an_edited_or_new_view_is_rebuilt_and_an_unchanged_one_is_not(
    harness_factory: Callable[[], Harness], tmp_path: Path
) -> None:
    records = stream()
    h, online = harness_factory(), MemoryOnlineStore()
    writer = writer_for(h, tmp_path, online)
    await open_lane(h, spec())
    await feed(h, records, 0)
    written: list[str] = []
    write = online.write

    def counted(view: str, rows: list[FeatureRow]) -> None:
        written.append(view)
        write(view, rows)

    online.write = counted  # type: ignore[method-assign]
    edited = make_spec(feature_views=EDITED)
    await h.engine.install(make_record(edited, version=2))  # the lane is open: rebuilt now
    assert set(written) == {"flights/carrier_hour", "flights/carrier_all"}
    assert len(written) == 2 * 5  # each of the 5 stored batches once per rebuilt view
    for view in edited.feature_views:
        assert_view_matches(online, records, view)
    assert writer.folded_offset(edited, TP0.topic, 0) == 13

    written.clear()
    more = [
        {**r, "time_hour": (pd.Timestamp(r["time_hour"]) + pd.Timedelta(hours=9)).isoformat()}
        for r in records[:3]
    ]
    await feed(h, more, 14)  # and then live again, every view once per batch
    assert sorted(written) == sorted(view_key("flights", v["name"]) for v in EDITED)
    for view in edited.feature_views:
        assert_view_matches(online, records + more, view)


@pytest.mark.parametrize("restart", [True, False], ids=["process-restarted", "retried-in-process"])
async def test_a_crash_in_the_middle_of_a_rebuild_counts_nothing_twice(
    harness_factory: Callable[[], Harness], tmp_path: Path, restart: bool
) -> None:
    records = stream()
    h, online = harness_factory(), MemoryOnlineStore()
    writer_for(h, tmp_path / "live", online)
    await open_lane(h, spec())
    await feed(h, records, 0)
    live = saved_state(tmp_path / "live")

    crashed, rebuilt = h.restart(), MemoryOnlineStore()
    writer = writer_for(crashed, tmp_path / "rebuilt", rebuilt)
    write, calls = rebuilt.write, {"n": 0}

    def failing(view: str, rows: list[FeatureRow]) -> None:
        calls["n"] += 1
        if calls["n"] == 8:  # the third batch's second view: its first view is online
            raise OSError("killed")
        write(view, rows)

    rebuilt.write = failing  # type: ignore[method-assign]
    await open_lane(crashed, spec())  # the lane fails to open (logged)
    assert writer.folded_offset(spec(), TP0.topic, 0) == 5  # two batches committed
    rebuilt.write = write  # type: ignore[method-assign]
    if restart:  # the process died: its kept states are gone
        writer.close()
        crashed = h.restart()
        writer_for(crashed, tmp_path / "rebuilt", rebuilt)
        await crashed.engine.install(make_record(spec()))
    await crashed.engine.on_assigned([TP0])  # the lane opens again
    assert saved_state(tmp_path / "rebuilt") == live
    assert online_rows(rebuilt, VIEWS) == online_rows(online, VIEWS)
    assert_matches_reference(rebuilt, records)


async def test_a_batch_missing_from_the_store_is_logged_and_skipped(
    harness_factory: Callable[[], Harness], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    records = stream()
    h = harness_factory()
    writer_for(h, tmp_path / "live", MemoryOnlineStore())
    await open_lane(h, spec())
    await feed(h, records, 0)
    lost = h.publisher.of_type(DataBatchReady)[1]  # offsets 3-5
    del h.store.objects[f"batches/flights/{lost.batch_id}.parquet"]  # type: ignore[attr-defined]

    again, online = h.restart(), MemoryOnlineStore()
    writer = writer_for(again, tmp_path / "fresh", online)
    with caplog.at_level(logging.ERROR):
        await open_lane(again, spec())
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and lost.batch_id in errors[0].getMessage()
    assert writer.folded_offset(spec(), TP0.topic, 0) == 13
    assert_matches_reference(online, records[:3] + records[6:])

    await feed(again, records[:3], 14)  # the partition goes on
    assert writer.folded_offset(spec(), TP0.topic, 0) == 16


async def test_an_old_database_keeps_its_state_with_per_view_watermarks(
    harness_factory: Callable[[], Harness], tmp_path: Path
) -> None:
    records = stream()
    h, online = harness_factory(), MemoryOnlineStore()
    writer_for(h, tmp_path, online)
    await open_lane(h, spec())
    await feed(h, records, 0)
    states, _ = saved_state(tmp_path)
    with sqlite3.connect(tmp_path / "feature_views.db") as db:  # as the version before wrote it
        db.execute("DROP TABLE view_folded")
        db.execute(
            "CREATE TABLE folded (pipeline TEXT NOT NULL, topic TEXT NOT NULL,"
            " partition INTEGER NOT NULL, last_offset INTEGER NOT NULL,"
            " PRIMARY KEY (pipeline, topic, partition))"
        )
        db.execute("INSERT INTO folded VALUES ('flights', ?, 0, 13)", (TP0.topic,))

    again, reopened = h.restart(), MemoryOnlineStore()
    writer = writer_for(again, tmp_path, reopened)
    await open_lane(again, spec())
    assert writer.folded_offset(spec(), TP0.topic, 0) == 13
    assert saved_state(tmp_path)[0] == states
    assert online_rows(reopened, VIEWS) == {v["name"]: {} for v in VIEWS}  # nothing re-folded
