"""One contract suite, run against every online store: memory, SQLite and a real Redis."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from throwaway_redis import RedisServer

from continuum.featurestore import (
    AsyncOnlineStore,
    FeatureRow,
    MemoryOnlineStore,
    OnlineStore,
    open_online_store,
    view_key,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'online.db'}"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.uri()


@pytest.fixture
def store(uri: str) -> Iterator[OnlineStore]:
    opened = open_online_store(uri)
    yield opened
    opened.close()


@pytest.fixture
def view() -> str:
    # A fresh view per test: the Redis server is shared by the session.
    return view_key("demo", f"v{uuid.uuid4().hex[:8]}")


def row(entity: str, minutes: int, **values: float | str | None) -> FeatureRow:
    return FeatureRow(entity, T0 + timedelta(minutes=minutes), dict(values))


def test_written_rows_read_back_and_missing_entities_are_absent(
    store: OnlineStore, view: str
) -> None:
    store.write(view, [row("u1", 1, mean=1.5, shop="a", none=None), row("u2", 2, mean=3.0)])
    got = store.read(view, ["u1", "u2", "nobody"])
    assert set(got) == {"u1", "u2"}
    assert got["u1"] == FeatureRow(
        "u1", T0 + timedelta(minutes=1), {"mean": 1.5, "shop": "a", "none": None}
    )
    assert got["u1"].as_of.tzinfo is not None
    assert store.read(view, []) == {}


def test_newer_rows_replace_and_older_rows_are_ignored(store: OnlineStore, view: str) -> None:
    store.write(view, [row("u1", 5, n=5.0)])
    store.write(view, [row("u1", 3, n=3.0)])  # a replay of an older batch
    assert store.read(view, ["u1"])["u1"].values == {"n": 5.0}
    store.write(view, [row("u1", 5, n=6.0)])  # same time: a late event refines the values
    assert store.read(view, ["u1"])["u1"].values == {"n": 6.0}
    store.write(view, [row("u1", 7, n=7.0)])
    assert store.read(view, ["u1"])["u1"] == row("u1", 7, n=7.0)


def test_a_batch_repeating_an_entity_keeps_its_newest_row(store: OnlineStore, view: str) -> None:
    store.write(view, [row("u1", 2, n=2.0), row("u1", 9, n=9.0), row("u1", 4, n=4.0)])
    assert store.read(view, ["u1"])["u1"].values == {"n": 9.0}


def test_views_and_pipelines_do_not_share_keys(store: OnlineStore, view: str) -> None:
    other = view + "x"
    store.write(view, [row("u1", 1, n=1.0)])
    store.write(other, [row("u1", 1, n=2.0)])
    assert store.read(view, ["u1"])["u1"].values == {"n": 1.0}
    assert store.read(other, ["u1"])["u1"].values == {"n": 2.0}


def test_many_rows_in_one_write(store: OnlineStore, view: str) -> None:
    rows = [row(f"e{i}", i % 50, n=float(i)) for i in range(2500)]
    store.write(view, rows)
    got = store.read(view, [f"e{i}" for i in range(0, 2500, 7)] + ["e-missing"])
    assert len(got) == len(range(0, 2500, 7))
    assert got["e2499"].values == {"n": 2499.0}


def test_nan_is_stored_as_missing(store: OnlineStore, view: str) -> None:
    store.write(view, [row("u1", 1, n=float("nan"))])
    assert store.read(view, ["u1"])["u1"].values == {"n": None}


async def test_the_async_face_reads_what_was_written(store: OnlineStore, view: str) -> None:
    face = AsyncOnlineStore(store)
    await face.write(view, [row("u1", 1, n=1.0)])
    assert (await face.read(view, ["u1"]))["u1"].values == {"n": 1.0}


WRITER = """
import sys
from datetime import UTC, datetime
from continuum.featurestore import FeatureRow, open_online_store
store = open_online_store(sys.argv[1])
store.write(sys.argv[2], [FeatureRow("far", datetime(2026, 1, 1, tzinfo=UTC), {"n": 42.0})])
store.close()
"""


def test_another_process_sees_the_writes(uri: str, view: str) -> None:
    if uri == "memory://":
        # An in-process fake: there is no other process to share it with.
        assert isinstance(open_online_store(uri), MemoryOnlineStore)
        return
    reader = open_online_store(uri)
    try:
        assert reader.read(view, ["far"]) == {}
        subprocess.run([sys.executable, "-c", WRITER, uri, view], check=True, timeout=60)
        assert reader.read(view, ["far"])["far"].values == {"n": 42.0}
    finally:
        reader.close()


def test_unknown_schemes_and_relative_sqlite_paths_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported online store scheme"):
        open_online_store("postgres://x")
    with pytest.raises(ValueError, match="sqlite:///absolute"):
        open_online_store("sqlite://relative.db")
