"""Write-behind: a step returns once its batches started writing, the next polls are
checked meanwhile, and offsets are committed only once what they cover is durable."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Mapping, Sequence

import pyarrow.parquet as pq
import pytest
from ingest_testkit import Harness, good, make_record, make_spec

from continuum.contracts import DataBatchReady, Event
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.manifest import ManifestStore
from continuum.ingest.ports import SourceMessage
from continuum.storage import get_verified

TOPIC = "flights.raw"
TP0, TP1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def polled(partition: int, first: int, count: int) -> list[SourceMessage]:
    value = json.dumps(good()).encode()
    return [SourceMessage(TOPIC, partition, first + i, value) for i in range(count)]


Batch = tuple[int, int]
"""A batch by (partition, first offset)."""


class Gates:
    """Holds the announcement of each batch named until its gate opens; a batch in
    ``failing`` has its announcement fail when released (the broker never acked it)."""

    def __init__(self, h: Harness, *batches: Batch) -> None:
        self.opened = {batch: asyncio.Event() for batch in batches}
        self.held: list[Batch] = []
        self.failing: set[Batch] = set()
        publish = h.publisher.publish

        async def gated(events: Sequence[Event]) -> None:
            for event in events:
                if not isinstance(event, DataBatchReady):
                    continue
                batch = (event.offset_ranges[0].partition, event.offset_ranges[0].first)
                if batch in self.opened:
                    self.held.append(batch)
                    await self.opened[batch].wait()
                    self.held.remove(batch)
                    if batch in self.failing:
                        raise ConnectionError("broker gone")
            await publish(events)

        h.publisher.publish = gated  # type: ignore[method-assign]

    def open(self, *batches: Batch) -> None:
        for batch in batches or tuple(self.opened):
            self.opened[batch].set()


def audit(h: Harness) -> None:
    """Fail any commit that passes an offset not in an announced batch (no rejections
    in these tests: every message is a valid row)."""
    commit = h.committer.commit

    async def checked(offsets: Mapping[TopicPartition, int]) -> None:
        for tp, point in offsets.items():
            announced = [
                r.last
                for b in h.publisher.of_type(DataBatchReady)
                for r in b.offset_ranges
                if (r.topic, r.partition) == tp
            ]
            assert point <= max(announced, default=-1) + 1, (tp, point, announced)
        await commit(offsets)

    h.committer.commit = checked  # type: ignore[method-assign]


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait (3 s at most) until ``condition()`` holds."""
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")


async def ready(h: Harness) -> Harness:
    await h.engine.install(make_record(make_spec(ingest={"flush_rows": 3})))
    await h.engine.on_assigned([TP0, TP1])
    audit(h)
    return h


def stored_offsets(h: Harness) -> dict[int, list[int]]:
    """Source offsets in the store's batches, per partition (each batch counted once)."""
    out: dict[int, list[int]] = {}
    unique = {b.event_id: b for b in h.publisher.of_type(DataBatchReady)}
    for batch in unique.values():
        table = pq.read_table(io.BytesIO(get_verified(h.store, batch.storage)))
        out.setdefault(batch.offset_ranges[0].partition, []).extend(
            table.column("_source_offset").to_pylist()
        )
    return {part: sorted(offsets) for part, offsets in out.items()}


def accepted(h: Harness) -> float:
    return h.metric("continuum_ingest_records_total", pipeline="flights", outcome="accepted")


@pytest.fixture
async def h(harness_factory: Callable[[], Harness]) -> Harness:
    return await ready(harness_factory())


async def test_the_next_poll_is_checked_while_the_last_steps_batch_is_still_writing(
    h: Harness,
) -> None:
    gates = Gates(h, (0, 0), (0, 3))
    await asyncio.wait_for(h.engine.handle(polled(0, 0, 4)), 2)  # batch 0-2 cut, 3 buffered
    await eventually(lambda: gates.held == [(0, 0)])  # written, its announcement held
    await asyncio.wait_for(h.engine.handle(polled(0, 4, 3)), 2)  # batch 3-5 cut, 6 buffered
    assert accepted(h) == 7  # step 2 was checked with step 1's batch not durable
    assert h.engine.buffered_rows() == 1
    await h.engine.flush_due()
    await asyncio.sleep(0.05)
    assert h.committer.commits == []  # nothing durable yet: nothing committed
    # The lane's chain spans steps: batch 3-5's manifest waits for 0-2's announcement.
    latest = ManifestStore(h.store).latest("flights", TOPIC, 0)
    assert latest is not None and latest.last_offset == 2
    assert h.engine.commits.processed == {}

    gates.open((0, 0))
    # Committed once durable, without waiting for another poll: step 1 checked up to 3,
    # but offset 3 is in step 2's batch (a lane's buffer spans polls), still held.
    await eventually(lambda: h.committer.last(TP0) == 3)
    await h.engine.flush_due()
    await asyncio.sleep(0.05)
    assert h.committer.last(TP0) == 3
    gates.open((0, 3))
    await eventually(lambda: h.committer.last(TP0) == 6)  # never past the buffered row
    announced = h.publisher.of_type(DataBatchReady)
    assert [(r.first, r.last) for b in announced for r in b.offset_ranges] == [(0, 2), (3, 5)]
    assert stored_offsets(h) == {0: list(range(6))}


async def test_a_write_failing_in_flight_is_raised_by_the_next_step_and_reread_once(
    h: Harness,
) -> None:
    gates = Gates(h, (0, 0))
    step1, step2 = polled(0, 0, 3) + polled(1, 0, 3), polled(0, 3, 3) + polled(1, 3, 3)
    # Both partitions' batches start; partition 0's will fail.
    await asyncio.wait_for(h.engine.handle(step1), 2)
    await eventually(lambda: gates.held == [(0, 0)] and 1 in stored_offsets(h))
    gates.failing.add((0, 0))
    gates.open()
    await eventually(lambda: not gates.held)
    with pytest.raises(ConnectionError, match="broker gone"):
        await h.engine.handle(step2)
    # Partition 1's batch is durable, but its step failed: nothing at all is committed,
    # and the failed step's successor was never checked.
    assert h.committer.commits == []
    assert accepted(h) == 6
    assert await h.engine.rewind() == {TP0: 0, TP1: 0}
    assert not h.engine.commits.steps

    gates.failing.clear()
    await h.engine.handle(step1 + step2)  # Kafka redelivers from the committed offsets
    await h.engine.settle()
    # Each row once: the written-but-unannounced batch (and partition 1's) are covered
    # by their manifests, announced again and skipped; the rest written now.
    assert stored_offsets(h) == {0: list(range(6)), 1: list(range(6))}
    stored = [k for k in h.store.list("batches/flights/") if k.endswith(".parquet")]
    assert len(stored) == 4
    assert h.committer.last(TP0) == 6 and h.committer.last(TP1) == 6


async def test_a_third_step_waits_for_the_oldest_to_settle(h: Harness) -> None:
    gates = Gates(h, (0, 0), (1, 0))
    await asyncio.wait_for(h.engine.handle(polled(0, 0, 3)), 2)  # step 1: 0-2 of TP0, held
    await asyncio.wait_for(h.engine.handle(polled(1, 0, 3)), 2)  # step 2: 0-2 of TP1, held
    third = asyncio.ensure_future(h.engine.handle(polled(0, 3, 3)))
    await asyncio.sleep(0.1)
    assert not third.done()  # two steps unsettled: the third waits before checking
    assert accepted(h) == 6

    gates.open((0, 0))  # the oldest settles; the third goes on, step 2 still held
    await asyncio.wait_for(third, 2)
    assert accepted(h) == 9
    await eventually(lambda: len(h.publisher.of_type(DataBatchReady)) == 2)
    await eventually(lambda: h.committer.last(TP0) == 3)
    await asyncio.sleep(0.05)
    # Step 3's batch (3-5) is durable, but step 2 is not: steps settle in order.
    assert h.committer.last(TP0) == 3 and h.committer.last(TP1) is None

    gates.open((1, 0))
    await eventually(lambda: h.committer.last(TP0) == 6 and h.committer.last(TP1) == 3)


async def test_revoke_and_shutdown_wait_for_the_writes_in_flight_and_commit(h: Harness) -> None:
    gates = Gates(h, (0, 0), (1, 0))
    # Batches 0-2 of both held; 3-4 of TP0 and 3 of TP1 buffered.
    await asyncio.wait_for(h.engine.handle(polled(0, 0, 5) + polled(1, 0, 4)), 2)
    revoke = asyncio.ensure_future(h.engine.on_revoked([TP0]))
    await asyncio.sleep(0.1)
    assert not revoke.done()  # it gives nothing away while a write is in flight
    assert h.committer.commits == []
    gates.open()
    await asyncio.wait_for(revoke, 2)
    assert stored_offsets(h) == {0: list(range(5)), 1: [0, 1, 2]}
    assert h.committer.last(TP0) == 5  # its buffer flushed too
    assert h.committer.last(TP1) == 3  # everything durable committed, not only TP0's
    assert h.engine.owned == {TP1} and not h.engine.commits.steps

    gates = Gates(h, (1, 3))
    await asyncio.wait_for(h.engine.handle(polled(1, 4, 3)), 2)  # 3-5 held, 6 buffered
    shutdown = asyncio.ensure_future(h.engine.flush_all())
    await asyncio.sleep(0.1)
    assert not shutdown.done()
    gates.open()
    await asyncio.wait_for(shutdown, 2)
    assert stored_offsets(h)[1] == list(range(7))
    assert h.committer.last(TP1) == 7


async def test_a_failure_behind_a_step_still_in_flight_is_raised_at_once(h: Harness) -> None:
    gates = Gates(h, (0, 0), (1, 0))
    gates.failing.add((1, 0))
    await asyncio.wait_for(h.engine.handle(polled(0, 0, 3)), 2)  # step 1: held
    await asyncio.wait_for(h.engine.handle(polled(1, 0, 3)), 2)  # step 2: will fail
    gates.open((1, 0))
    await eventually(lambda: h.engine.commits.steps[1].pending.failure() is not None)
    # Not stuck behind step 1 (still held): the next step is refused at once.
    with pytest.raises(ConnectionError, match="broker gone"):
        await asyncio.wait_for(h.engine.handle(polled(0, 3, 3)), 2)
    rewind = asyncio.ensure_future(h.engine.rewind())
    await asyncio.sleep(0.05)
    assert not rewind.done()  # step 1's write is still running: the rewind waits for it
    gates.open((0, 0))
    assert await asyncio.wait_for(rewind, 2) == {TP0: 0, TP1: 0}
    assert h.committer.commits == []
