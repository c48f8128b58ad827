"""The ingest engine: records in, rejections and batches out, offsets committed when safe.

Kafka-free (a publisher and a committer are injected), so the whole "nothing lost, no
duplicates" logic is unit-tested with fakes. The consumer loop feeds it polled messages.

The rule behind every commit: a partition's offset is committed only up to the first
message that is not yet durable, i.e. not in a written, recorded and announced batch
and not a rejection acknowledged by Kafka. Per partition that is
``min(last fully processed offset + 1, first offset still buffered in any lane)``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence

import pyarrow as pa

from continuum.contracts import Event, utc_now
from continuum.ingest.batch_check import Rejected
from continuum.ingest.catalog import Catalog, PipelineEntry
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.ingest.lanes import Lane, TopicPartition, write_batch
from continuum.ingest.manifest import ManifestStore
from continuum.ingest.metrics import IngestMetrics
from continuum.ingest.ports import (
    EventPublisher,
    OffsetCommitter,
    Polled,
    SourceMessage,
    by_partition,
)
from continuum.ingest.rejections import rejection_for
from continuum.registry_client import PipelineSpecRecord
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)


class IngestEngine:
    """Validates, buffers, flushes and commits; every public method takes the one lock."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        publisher: EventPublisher,
        committer: OffsetCommitter,
        metrics: IngestMetrics,
        clock: Callable[[], float] = time.monotonic,
        features: FeatureViewWriter | None = None,
    ) -> None:
        self.catalog = Catalog()
        self.features = features
        """Folds each stored batch into the pipeline's feature views (None: no views)."""
        self.store = store
        self.manifests = ManifestStore(store)
        self.publisher = publisher
        self.committer = committer
        self.metrics = metrics
        self.clock = clock
        self.lock = asyncio.Lock()
        self.lanes: dict[tuple[str, TopicPartition], Lane] = {}
        self.owned: set[TopicPartition] = set()
        self.processed: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.session_start: dict[TopicPartition, int] = {}
        self._pending: list[Event] = []
        self._tentative: dict[TopicPartition, int] = {}
        self._handling = False

    # -- specs (called by the spec sync) ---------------------------------------------
    async def announce(self, name: str, source_topic: str, spec_version: int) -> None:
        """A pipeline exists at (at least) ``spec_version``; its spec may still be fetched."""
        async with self.lock:
            entry = self.catalog.entries.get(name)
            if entry is None:
                self.catalog.entries[name] = PipelineEntry(name, source_topic, None, spec_version)
            else:
                entry.wanted_version = max(entry.wanted_version, spec_version)

    async def install(self, record: PipelineSpecRecord) -> None:
        """Put a fetched spec in force; rows checked by the old one are flushed first."""
        async with self.lock:
            entry = self.catalog.entries.get(record.name)
            if entry and entry.record and entry.record.spec_version >= record.spec_version:
                entry.wanted_version = max(entry.wanted_version, record.spec_version)
                return
            await self._flush_lanes(lambda lane: lane.pipeline == record.name)
            topic = record.spec.source_topic
            if entry is None:
                self.catalog.entries[record.name] = PipelineEntry(
                    record.name, topic, record, record.spec_version
                )
            else:
                entry.record, entry.source_topic = record, topic
                entry.wanted_version = max(entry.wanted_version, record.spec_version)
            self._drop_lanes(lambda lane: lane.pipeline == record.name and lane.tp.topic != topic)
            logger.info("pipeline %s: spec v%d in force", record.name, record.spec_version)

    async def retire(self, name: str) -> None:
        """Stop ingesting ``name`` (its buffered rows are flushed first)."""
        async with self.lock:
            await self._flush_lanes(lambda lane: lane.pipeline == name)
            self._drop_lanes(lambda lane: lane.pipeline == name)
            self.catalog.entries.pop(name, None)

    # -- partitions (called by the rebalance listener) --------------------------------
    async def on_assigned(self, tps: Iterable[TopicPartition]) -> None:
        """Take partitions: load their manifests and re-publish each lane's last batch event."""
        async with self.lock:
            for tp in tps:
                self.owned.add(tp)
                for entry in self.catalog.for_topic(tp.topic):
                    try:
                        await self._lane(entry.name, tp)
                    except Exception:  # retried lazily when the lane's first message comes
                        logger.exception("could not load the manifest of %s %s", entry.name, tp)

    async def on_revoked(self, tps: Iterable[TopicPartition]) -> None:
        """Give partitions away: flush their lanes and commit while we still own them."""
        revoked = set(tps)
        async with self.lock:
            try:
                await self._flush_lanes(lambda lane: lane.tp in revoked)
            except Exception:  # not committed, so the next owner reads them again
                logger.exception("flush on revoke failed; the next owner re-reads the rows")
            self._drop_lanes(lambda lane: lane.tp in revoked)
            for tp in revoked:
                self.owned.discard(tp)
                for state in (self.processed, self.committed, self.session_start):
                    state.pop(tp, None)

    # -- data -------------------------------------------------------------------------
    async def handle(
        self, messages: Sequence[SourceMessage] | Mapping[TopicPartition, Sequence[Polled]]
    ) -> dict[TopicPartition, int]:
        """Process polled messages (in offset order per partition), a run per partition.

        ``messages`` is a list of messages or, as the consumer polls them, each
        partition's records. Returns the partitions that must wait for a spec, with the
        offset to seek back to.
        """
        runs = messages if isinstance(messages, Mapping) else by_partition(messages)
        blocked: dict[TopicPartition, int] = {}
        async with self.lock:
            self._pending, self._tentative, self._handling = [], {}, True
            try:
                for tp, run in runs.items():
                    await self._handle_run(TopicPartition(*tp), run, blocked)
            finally:
                self._handling = False
            await self._drain()
            await self._commit()
        return blocked

    async def _handle_run(
        self, tp: TopicPartition, run: Sequence[Polled], blocked: dict[TopicPartition, int]
    ) -> None:
        if not run or tp not in self.owned:
            return
        self.session_start.setdefault(tp, run[0].offset)
        entries = self.catalog.for_topic(tp.topic)
        if not all(e.ready for e in entries):
            blocked[tp] = run[0].offset
            return
        offsets = [m.offset for m in run]
        values = [m.value for m in run]
        for entry in entries:
            await self._check(entry, tp, offsets, values)
        self._tentative[tp] = offsets[-1]

    async def flush_due(self) -> None:
        """Flush every lane whose oldest row waited ``flush_seconds`` (the timer's tick)."""
        now = self.clock()
        async with self.lock:
            await self._flush_lanes(
                lambda lane: (
                    lane.started_at is not None
                    and lane.record is not None
                    and now - lane.started_at >= lane.record.spec.ingest.flush_seconds
                )
            )

    async def flush_all(self) -> None:
        """Flush every buffered row and commit (on shutdown)."""
        async with self.lock:
            await self._flush_lanes(lambda lane: True)

    async def rewind(self) -> dict[TopicPartition, int]:
        """After a failure: drop every buffer and lane; the offsets to seek each partition to.

        Nothing past the committed offsets is durable-and-committed, so reading again from
        there loses nothing; manifests make the re-read skip rows already in batches.
        """
        async with self.lock:
            self.metrics.recoveries.inc()
            targets: dict[TopicPartition, int] = {}
            for tp in self.owned:
                start = self.committed.get(tp, self.session_start.get(tp))
                if start is not None:
                    targets[tp] = start
            self._drop_lanes(lambda lane: True)
            self.processed.clear()
            return targets

    def buffered_rows(self) -> int:
        """Rows waiting in memory across lanes."""
        return sum(lane.row_count for lane in self.lanes.values())

    # -- internals (lock held) --------------------------------------------------------
    async def _lane(self, pipeline: str, tp: TopicPartition) -> Lane:
        lane = self.lanes.get((pipeline, tp))
        if lane is not None:
            return lane
        lane = Lane(pipeline, tp)
        manifest = await asyncio.to_thread(self.manifests.latest, pipeline, tp.topic, tp.partition)
        if manifest is not None:
            # The batch may never have been announced (crash between write and publish):
            # announce it again; its event id is deterministic, so this is idempotent.
            await self.publisher.publish([manifest.batch])
            self.metrics.republished.labels(pipeline).inc()
            lane.covered, lane.last_event = manifest.last_offset, manifest.batch
            entry = self.catalog.entries.get(pipeline)
            if self.features is not None and entry is not None and entry.record is not None:
                # A crash between the batch's write and its fold: fold it now.
                spec = entry.record.spec
                await asyncio.to_thread(self.features.recover, spec, manifest.batch)
        self.lanes[(pipeline, tp)] = lane
        return lane

    async def _check(
        self,
        entry: PipelineEntry,
        tp: TopicPartition,
        offsets: list[int],
        values: list[bytes | None],
    ) -> None:
        lane = await self._lane(entry.name, tp)
        skip = bisect_right(offsets, lane.covered)  # already in a written batch
        if skip == len(offsets):
            return
        offsets, values = offsets[skip:], values[skip:]
        run = entry.checker.check(tp.partition, offsets, values)
        assert entry.record is not None
        self._count(entry.name, len(run.offsets), run.rejected)
        for offset, value, problems in run.rejected:
            msg = SourceMessage(tp.topic, tp.partition, offset, value)
            self._pending.append(rejection_for(entry.name, entry.spec_version, msg, problems))
        # Cut where one message at a time would have: a batch ends at its flush_rows-th row.
        flush_rows, taken = entry.spec.ingest.flush_rows, 0
        while taken < len(run.offsets):
            size = min(flush_rows - lane.row_count, len(run.offsets) - taken)
            lane.add(run.rows.slice(taken, size), run.offsets[taken], entry.record, self.clock())
            self.metrics.buffered_rows.labels(entry.name).inc(size)
            taken += size
            if lane.row_count >= flush_rows:
                lane.last_offset = run.offsets[taken - 1]
                await self._flush(lane)
        lane.last_offset = offsets[-1]

    def _count(self, pipeline: str, accepted: int, rejected: list[Rejected]) -> None:
        self.metrics.records.labels(pipeline, "accepted").inc(accepted)
        if rejected:
            self.metrics.records.labels(pipeline, "rejected").inc(len(rejected))
            for refused in rejected:
                for problem in refused.problems:
                    self.metrics.rejections.labels(pipeline, problem.code).inc()

    async def _drain(self) -> None:
        """Publish pending rejections; then the messages handled so far are durable."""
        if self._pending:
            events, self._pending = self._pending, []
            await self.publisher.publish(events)
        self.processed.update(self._tentative)
        self._tentative = {}

    async def _flush(self, lane: Lane) -> None:
        if not lane.row_count:
            return
        # A manifest says "every message up to last_offset is durable", so rejections
        # among those offsets must be acknowledged before it is written.
        await self._drain()
        started = time.perf_counter()
        manifest = await asyncio.to_thread(write_batch, lane, self.store, self.manifests, utc_now())
        if self.features is not None and lane.record is not None:
            # Durable batch, offsets not yet committed: a crash replays this fold.
            table = pa.Table.from_batches(lane.chunks)
            spec = lane.record.spec
            await asyncio.to_thread(self.features.fold_batch, spec, manifest.batch, table)
        await self.publisher.publish([manifest.batch])
        rows = lane.row_count
        lane.covered, lane.last_event = manifest.last_offset, manifest.batch
        lane.clear()
        if not self._handling:  # handle() commits once at its end, past this batch too
            await self._commit()
        self.metrics.batches.labels(lane.pipeline).inc()
        self.metrics.batch_rows.labels(lane.pipeline).observe(rows)
        self.metrics.buffered_rows.labels(lane.pipeline).dec(rows)
        self.metrics.flush_seconds.labels(lane.pipeline).observe(time.perf_counter() - started)
        logger.info("batch %s: %d rows of %s", manifest.batch.batch_id, rows, lane.pipeline)

    async def _flush_lanes(self, which: Callable[[Lane], bool]) -> None:
        for lane in [lane for lane in self.lanes.values() if which(lane)]:
            await self._flush(lane)
        await self._commit()

    def _drop_lanes(self, which: Callable[[Lane], bool]) -> None:
        for key, lane in list(self.lanes.items()):
            if which(lane):
                self.metrics.buffered_rows.labels(lane.pipeline).dec(lane.row_count)
                del self.lanes[key]

    async def _commit(self) -> None:
        offsets: dict[TopicPartition, int] = {}
        for tp in self.owned:
            if tp not in self.processed:
                continue
            point = self.processed[tp] + 1
            for lane in self.lanes.values():
                if lane.tp == tp and lane.first_offset is not None:
                    point = min(point, lane.first_offset)
            # The session started at the committed offset: committing it again is a no-op.
            if point > self.committed.get(tp, self.session_start.get(tp, -1)):
                offsets[tp] = point
        if not offsets:
            return
        try:
            await self.committer.commit(offsets)
        except Exception as exc:  # e.g. a rebalance: a later commit (or the next owner) catches up
            logger.warning("offset commit failed (%s); will commit again later", exc)
            return
        self.committed.update(offsets)
