"""Batches of several lanes written side by side: order per lane, nothing committed early,
and a failed write re-read after the rewind without losing or duplicating a row."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
from ingest_testkit import Harness, good, make_record, make_spec

from continuum.contracts import DataBatchReady
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.ports import SourceMessage
from continuum.storage import get_verified

TOPIC = "flights.raw"
TP0, TP1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def polled(count: int, partition: int, bad_at: int | None = None) -> list[SourceMessage]:
    out = []
    for offset in range(count):
        value = b"{not json" if offset == bad_at else json.dumps(good()).encode()
        out.append(SourceMessage(TOPIC, partition, offset, value))
    return out


async def ready(h: Harness) -> Harness:
    await h.engine.install(make_record(make_spec(ingest={"flush_rows": 3})))
    await h.engine.on_assigned([TP0, TP1])
    return h


def stored_offsets(h: Harness) -> dict[int, list[int]]:
    """Source offsets of each announced batch, per partition, in announcement order (an
    event announced again has the same id: consumers drop it, so it counts once)."""
    out: dict[int, list[int]] = {}
    unique = {b.event_id: b for b in h.publisher.of_type(DataBatchReady)}
    for batch in unique.values():
        table = pq.read_table(io.BytesIO(get_verified(h.store, batch.storage)))
        part = batch.offset_ranges[0].partition
        out.setdefault(part, []).extend(table.column("_source_offset").to_pylist())
    return out


async def test_lanes_write_side_by_side_in_order_and_commit_after_all(
    harness_factory: Callable[[], Harness],
) -> None:
    h = await ready(harness_factory())
    await h.engine.handle(polled(10, 0, bad_at=4) + polled(9, 1))
    await h.engine.settle()  # the step returned once its writes started (write-behind)
    # Every batch of a lane in offset order; the bad record dead-lettered alone.
    assert stored_offsets(h) == {0: [0, 1, 2, 3, 5, 6, 7, 8, 9], 1: list(range(9))}
    kinds = [kind for kind, _ in h.log]
    assert kinds[0] == "publish"  # the rejection, acknowledged before any manifest
    assert kinds[-1] == "commit" and kinds.count("commit") == 1
    assert h.log[-1][1] == {TP0: 10, TP1: 9}


async def test_a_failed_lane_write_commits_nothing_and_the_reread_duplicates_nothing(
    harness_factory: Callable[[], Harness],
) -> None:
    h = await ready(harness_factory())
    put = h.store.put
    broken = {"on": True}

    def flaky_put(key: str, data: bytes) -> Any:
        # Partition 1's second batch: its Parquet bytes land, its manifest does not.
        if broken["on"] and f"{TOPIC}-1/" in key and key.endswith(f"{5:020d}.json"):
            raise OSError("disk full")
        return put(key, data)

    h.store.put = flaky_put  # type: ignore[method-assign]
    messages = polled(9, 0) + polled(9, 1)
    await h.engine.handle(messages)  # returns once the writes started
    try:
        await h.engine.settle()
    except OSError:
        pass
    else:
        raise AssertionError("the failed write must be raised once waited for")
    assert h.committer.commits == []  # partition 0's batches are durable, yet wait too
    targets = await h.engine.rewind()
    assert targets == {TP0: 0, TP1: 0}

    broken["on"] = False
    await h.engine.handle(messages)  # Kafka redelivers from the committed offsets
    await h.engine.settle()
    # Each row once, in order: batches written before the failure are skipped as covered
    # (their events announced again under the same ids), the rest written now.
    assert stored_offsets(h) == {0: list(range(9)), 1: list(range(9))}
    assert h.committer.last(TP0) == 9 and h.committer.last(TP1) == 9
    stored = [k for k in h.store.list("batches/flights/") if k.endswith(".parquet")]
    assert len(stored) == 6


async def test_a_check_failing_after_a_cut_started_waits_for_that_write_and_commits_nothing(
    harness_factory: Callable[[], Harness],
) -> None:
    h = await ready(harness_factory())
    open_lane = h.engine.book.open
    broken = {"on": True}

    async def flaky_open(pipeline: str, tp: TopicPartition) -> Any:
        if broken["on"] and tp == TP1:
            raise OSError("store unreachable")
        return await open_lane(pipeline, tp)

    h.engine.book.open = flaky_open  # type: ignore[method-assign]
    messages = polled(7, 0, bad_at=1) + polled(6, 1)
    try:
        await h.engine.handle(messages)
    except OSError:
        pass
    else:
        raise AssertionError("the failed check must fail the step")
    # Partition 0's batches were cut, started and finished (rejection acked first) before
    # the failure was told; nothing is committed.
    assert stored_offsets(h) == {0: [0, 2, 3, 4, 5, 6]}
    assert [kind for kind, _ in h.log][:1] == ["publish"]  # the rejection, before the batches
    assert h.committer.commits == []
    await h.engine.rewind()
    broken["on"] = False
    await h.engine.handle(messages)
    await h.engine.settle()
    assert stored_offsets(h) == {0: [0, 2, 3, 4, 5, 6], 1: list(range(6))}
    assert h.committer.last(TP0) == 7 and h.committer.last(TP1) == 6
