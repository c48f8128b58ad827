"""Batching, manifests and commits with fakes: nothing lost, no duplicates."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest
from ingest_testkit import SPEC, Harness, good, make_record, make_spec

from continuum.contracts import DataBatchReady, RecordRejected
from continuum.ingest.lanes import TopicPartition, batch_event_id
from continuum.ingest.manifest import ManifestStore
from continuum.ingest.ports import SourceMessage
from continuum.storage import get_verified

TOPIC = "flights.raw"
TP0 = TopicPartition(TOPIC, 0)
TP1 = TopicPartition(TOPIC, 1)


def messages(records: list[Any], start: int = 0, partition: int = 0) -> list[SourceMessage]:
    out = []
    for i, record in enumerate(records):
        value = record if isinstance(record, bytes) else json.dumps(record).encode()
        out.append(SourceMessage(TOPIC, partition, start + i, value))
    return out


async def ready(h: Harness, *tps: TopicPartition, **spec: Any) -> Harness:
    await h.engine.install(make_record(make_spec(**spec)))
    await h.engine.on_assigned(tps or (TP0,))
    return h


async def handled(h: Harness, polled: list[SourceMessage]) -> dict[TopicPartition, int]:
    """``handle``, then wait for the writes it started and commit (it writes behind)."""
    blocked = await h.engine.handle(polled)
    await h.engine.settle()
    return blocked


def batches(h: Harness) -> list[DataBatchReady]:
    return h.publisher.of_type(DataBatchReady)


def rows_in(h: Harness, batch: DataBatchReady) -> list[int]:
    table = pq.read_table(io.BytesIO(get_verified(h.store, batch.storage)))
    return [int(v) for v in table.column("_source_offset").to_pylist()]


@pytest.fixture
async def h(harness_factory: Callable[[], Harness]) -> Harness:
    return await ready(harness_factory())


async def test_rows_flush_by_count_and_commit_stops_at_the_buffer(h: Harness) -> None:
    await handled(h, messages([good() for _ in range(7)]))
    first, second = batches(h)
    assert [(r.first, r.last) for r in first.offset_ranges] == [(0, 2)]
    assert [(r.first, r.last) for r in second.offset_ranges] == [(3, 5)]
    assert (first.row_count, first.labelled_row_count, first.spec_version) == (3, 3, 1)
    assert rows_in(h, first) == [0, 1, 2]
    assert first.storage.uri == f"{h.store_uri}/batches/flights/{first.batch_id}.parquet"
    # Offset 6 is only in memory: the committed offset never passes it.
    assert h.committer.last(TP0) == 6
    assert h.engine.buffered_rows() == 1
    assert h.metric("continuum_ingest_buffered_rows", pipeline="flights") == 1
    assert h.metric("continuum_ingest_batches_total", pipeline="flights") == 2
    assert h.metric("continuum_ingest_records_total", pipeline="flights", outcome="accepted") == 7


async def test_commit_comes_after_write_manifest_and_publish(h: Harness) -> None:
    await handled(h, messages([good() for _ in range(3)]))
    kinds = [kind for kind, _ in h.log]
    assert kinds == ["publish", "commit"]
    (batch,) = batches(h)
    manifest = ManifestStore(h.store).latest("flights", TOPIC, 0)
    assert manifest is not None
    assert manifest.last_offset == 2
    assert manifest.batch == batch
    assert h.log[1][1] == {TP0: 3}


async def test_rows_flush_by_time(h: Harness) -> None:
    await handled(h, messages([good(), good()]))
    h.clock.now += 9.9
    await h.engine.flush_due()
    assert batches(h) == []
    assert h.committer.last(TP0) is None
    h.clock.now += 0.1
    await h.engine.flush_due()
    await h.engine.settle()  # written behind, like a poll step's batches
    (batch,) = batches(h)
    assert batch.row_count == 2
    assert h.committer.last(TP0) == 2


async def test_nothing_is_committed_when_the_batch_publish_fails(h: Harness) -> None:
    h.publisher.fail_with = ConnectionError("kafka down")
    with pytest.raises(ConnectionError):
        await handled(h, messages([good() for _ in range(3)]))
    assert h.committer.commits == []
    assert await h.engine.rewind() == {TP0: 0}
    assert h.engine.buffered_rows() == 0


async def test_nothing_is_published_or_committed_when_the_write_fails(h: Harness) -> None:
    def broken_put(key: str, data: bytes) -> Any:
        raise OSError("disk full")

    h.store.put = broken_put  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk full"):
        await handled(h, messages([good() for _ in range(3)]))
    assert h.log == []


async def test_restart_skips_covered_offsets_and_republishes_the_last_batch(
    harness_factory: Callable[[], Harness],
) -> None:
    first = await ready(harness_factory())
    # Crash after write + manifest + publish, before any commit reached Kafka.
    first.committer.commits.clear()
    await handled(first, messages([good() for _ in range(4)]))
    (written,) = batches(first)

    second = first.restart()
    await ready(second)
    assert batches(second) == [written]  # re-published on assignment, same event id
    assert second.metric("continuum_ingest_republished_batches_total", pipeline="flights") == 1
    # Kafka redelivers from the last commit we cannot rely on: offset 0.
    await handled(second, messages([good() for _ in range(6)]))
    new = [b for b in batches(second) if b.batch_id != written.batch_id]
    assert [(r.first, r.last) for b in new for r in b.offset_ranges] == [(3, 5)]
    all_rows = rows_in(second, written) + [o for b in new for o in rows_in(second, b)]
    assert all_rows == [0, 1, 2, 3, 4, 5]  # no duplicates, nothing lost
    assert second.committer.last(TP0) == 6


async def test_crash_between_write_and_publish_is_recovered_on_restart(
    harness_factory: Callable[[], Harness],
) -> None:
    first = await ready(harness_factory())
    first.publisher.fail_with = ConnectionError("kafka down")
    with pytest.raises(ConnectionError):
        await handled(first, messages([good() for _ in range(3)]))
    assert batches(first) == []

    second = first.restart()
    await ready(second)
    (republished,) = batches(second)
    assert republished.offset_ranges[0].last == 2
    assert republished.event_id == batch_event_id(republished.batch_id)


async def test_batch_id_and_bytes_are_deterministic(
    harness_factory: Callable[[], Harness],
) -> None:
    a, b = await ready(harness_factory()), await ready(harness_factory())
    records = [good(distance=float(i)) for i in range(3)]
    await handled(a, messages(records, start=40))
    await handled(b, messages(records, start=40))
    (one,), (two,) = batches(a), batches(b)
    assert one.batch_id == two.batch_id
    assert one.event_id == two.event_id == batch_event_id(one.batch_id)
    assert one.correlation_id == two.correlation_id
    assert one.storage.sha256 == two.storage.sha256


async def test_invalid_records_are_rejected_with_every_reason(h: Harness) -> None:
    await handled(h, messages([good(distance=-1, origin="LAX"), b"\x00not json", good()], start=10))
    first, second = h.publisher.of_type(RecordRejected)
    assert [(r.field, r.reason.split(":")[0]) for r in first.reasons] == [
        ("distance", "range"),
        ("origin", "category"),
    ]
    assert (first.source.topic, first.source.partition, first.source.offset) == (TOPIC, 0, 10)
    assert first.spec_version == 1
    assert '"LAX"' in first.raw
    assert [(r.field, r.reason.split(":")[0]) for r in second.reasons] == [("$", "json")]
    # Rejections are durable; the one valid row (offset 12) is still buffered.
    assert h.committer.last(TP0) == 12
    assert h.metric("continuum_ingest_rejections_total", pipeline="flights", reason="range") == 1
    assert h.metric("continuum_ingest_rejections_total", pipeline="flights", reason="json") == 1
    assert h.metric("continuum_ingest_records_total", pipeline="flights", outcome="rejected") == 2


async def test_a_label_outside_the_target_classes_is_quarantined(h: Harness) -> None:
    # A binary target of 2 used to be stored and then fail every training run.
    await handled(h, messages([good(late=2), good(late=-1), good()], start=20))
    first, second = h.publisher.of_type(RecordRejected)
    assert [(r.field, r.reason.split(":")[0]) for r in first.reasons] == [("late", "label")]
    assert "classes 0 or 1" in first.reasons[0].reason and "got 2" in first.reasons[0].reason
    assert first.source.offset == 20 and second.source.offset == 21
    assert h.metric("continuum_ingest_rejections_total", pipeline="flights", reason="label") == 2


async def test_only_rejections_commit_after_their_ack(h: Harness) -> None:
    h.publisher.fail_with = ConnectionError("kafka down")
    with pytest.raises(ConnectionError):
        await handled(h, messages([good(distance=-1)]))
    assert h.committer.commits == []
    assert await h.engine.rewind() == {TP0: 0}  # as the consumer loop does after a failure
    h.publisher.fail_with = None
    await handled(h, messages([good(distance=-1)]))
    assert h.committer.last(TP0) == 1


async def test_rejections_are_acked_before_a_batch_that_covers_their_offsets(h: Harness) -> None:
    await handled(h, messages([good(), good(carrier=None), good(), good()]))
    kinds = [type(e).__name__ for kind, e in h.log if kind == "publish"]
    assert kinds == ["RecordRejected", "DataBatchReady"]
    (batch,) = batches(h)
    assert [(r.first, r.last) for r in batch.offset_ranges] == [(0, 3)]
    assert rows_in(h, batch) == [0, 2, 3]


async def test_raw_text_is_truncated(h: Harness) -> None:
    huge = json.dumps(good(carrier=None, pad="x" * 100_000)).encode()
    await handled(h, messages([huge]))
    (rejected,) = h.publisher.of_type(RecordRejected)
    assert len(rejected.raw.encode()) == 64 * 1024


async def test_records_wait_for_an_unknown_spec(harness_factory: Callable[[], Harness]) -> None:
    h = harness_factory()
    await h.engine.announce("flights", TOPIC, 1)
    await h.engine.on_assigned([TP0])
    blocked = await h.engine.handle(messages([good(), good(distance=-1)], start=5))
    assert blocked == {TP0: 5}
    assert h.log == []  # nothing published, nothing committed, nothing dropped
    await h.engine.install(make_record())
    assert await handled(h, messages([good(), good(distance=-1)], start=5)) == {}
    assert len(h.publisher.of_type(RecordRejected)) == 1


async def test_newer_announced_version_blocks_until_fetched(h: Harness) -> None:
    await h.engine.announce("flights", TOPIC, 2)
    assert await h.engine.handle(messages([good()])) == {TP0: 0}
    await h.engine.install(make_record(version=2))
    assert await handled(h, messages([good()])) == {}


async def test_new_spec_version_flushes_the_old_buffer_first(h: Harness) -> None:
    await handled(h, messages([good(origin="JFK"), good(origin="JFK")]))
    closed = {**SPEC["schema"]}
    closed["features"] = [
        *SPEC["schema"]["features"][:3],
        {"name": "origin", "type": "categorical", "values": ["EWR"]},
    ]
    await h.engine.install(make_record(make_spec(schema=closed), version=2))
    (old,) = batches(h)
    assert (old.spec_version, old.row_count) == (1, 2)
    await handled(h, messages([good(origin="JFK")], start=2))
    (rejected,) = h.publisher.of_type(RecordRejected)
    assert rejected.spec_version == 2
    assert h.committer.last(TP0) == 3


async def test_revoke_flushes_commits_and_forgets(h: Harness) -> None:
    await handled(h, messages([good(), good()]))
    await h.engine.on_revoked([TP0])
    (batch,) = batches(h)
    assert batch.row_count == 2
    assert h.committer.last(TP0) == 2
    assert h.engine.lanes == {}
    assert h.engine.owned == set()
    # Messages of a partition no longer owned are ignored (another consumer has them).
    await handled(h, messages([good()], start=2))
    assert h.engine.buffered_rows() == 0


async def test_partitions_are_separate_lanes(harness_factory: Callable[[], Harness]) -> None:
    h = await ready(harness_factory(), TP0, TP1)
    await handled(h, messages([good(), good()]) + messages([good()] * 3, partition=1))
    (batch,) = batches(h)
    assert batch.offset_ranges[0].partition == 1
    assert h.committer.last(TP1) == 3
    assert h.committer.last(TP0) is None  # still buffered


async def test_two_pipelines_on_one_topic_commit_at_the_slower(
    harness_factory: Callable[[], Harness],
) -> None:
    h = await ready(harness_factory())
    await h.engine.install(make_record(make_spec(name="flights2", ingest={"flush_rows": 1})))
    await handled(h, messages([good(), good()]))
    assert {b.pipeline for b in batches(h)} == {"flights2"}
    assert h.committer.last(TP0) is None  # "flights" still buffers offsets 0 and 1
    await handled(h, messages([good()], start=2))
    assert h.committer.last(TP0) == 3


async def test_retire_flushes_and_forgets_the_pipeline(h: Harness) -> None:
    await handled(h, messages([good()]))
    await h.engine.retire("flights")
    assert len(batches(h)) == 1
    assert h.engine.catalog.topics() == frozenset()


async def test_shutdown_flushes_everything(h: Harness) -> None:
    await handled(h, messages([good(), good()]))
    await h.engine.flush_all()
    assert [b.row_count for b in batches(h)] == [2]
    assert h.committer.last(TP0) == 2
