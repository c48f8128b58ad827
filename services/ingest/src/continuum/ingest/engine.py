"""The ingest engine: records in, rejections and batches out, offsets committed when safe.

Kafka-free (a publisher and a committer are injected), so the whole "nothing lost, no
duplicates" logic is unit-tested with fakes. The consumer loop feeds it polled messages.

The rule behind every commit: a partition's offset is committed only up to the first
message that is not yet durable, i.e. not in a written, recorded and announced batch
and not a rejection acknowledged by Kafka. Per partition that is
``min(last fully processed offset + 1, first offset still buffered in any lane)``.

A batch a step fills starts writing when it is cut (:mod:`batch_writes`: behind its
lane's earlier batches and the rejections so far) while the step checks the other
partitions; the step commits once everything is durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence

from continuum.ingest.batch_check import BatchChecker
from continuum.ingest.batch_writes import BatchWriter, Cut
from continuum.ingest.catalog import Catalog, PipelineEntry
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.ingest.lane_book import LaneBook
from continuum.ingest.lanes import Lane, TopicPartition
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
        self.store = store
        self.manifests = ManifestStore(store)
        self.publisher = publisher
        self.committer = committer
        self.metrics = metrics
        self.clock = clock
        self.lock = asyncio.Lock()
        self.writer = BatchWriter(store, self.manifests, publisher, metrics, features)
        self.book = LaneBook(self.catalog, self.manifests, publisher, metrics, features)
        self.owned: set[TopicPartition] = set()
        self.processed: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.session_start: dict[TopicPartition, int] = {}
        self._tentative: dict[TopicPartition, int] = {}

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
        # Compiled here, off the loop, not by the first records: the first compile also
        # pays pyarrow's lazy imports (about a second), which would stall that poll.
        checker = await asyncio.to_thread(BatchChecker, record.spec)
        async with self.lock:
            entry = self.catalog.entries.get(record.name)
            if entry and entry.record and entry.record.spec_version >= record.spec_version:
                entry.wanted_version = max(entry.wanted_version, record.spec_version)
                return
            await self._flush_lanes(lambda lane: lane.pipeline == record.name)
            topic = record.spec.source_topic
            if entry is None:
                entry = PipelineEntry(record.name, topic, record, record.spec_version)
                self.catalog.entries[record.name] = entry
            else:
                entry.record, entry.source_topic = record, topic
                entry.wanted_version = max(entry.wanted_version, record.spec_version)
            entry.use_checker(checker)
            self.book.drop(lambda lane: lane.pipeline == record.name and lane.tp.topic != topic)
            logger.info("pipeline %s: spec v%d in force", record.name, record.spec_version)

    async def retire(self, name: str) -> None:
        """Stop ingesting ``name`` (its buffered rows are flushed first)."""
        async with self.lock:
            await self._flush_lanes(lambda lane: lane.pipeline == name)
            self.book.drop(lambda lane: lane.pipeline == name)
            self.catalog.entries.pop(name, None)

    # -- partitions (called by the rebalance listener) --------------------------------
    async def on_assigned(self, tps: Iterable[TopicPartition]) -> None:
        """Take partitions: load their manifests and re-publish each lane's last batch event."""
        async with self.lock:
            for tp in tps:
                self.owned.add(tp)
                for entry in self.catalog.for_topic(tp.topic):
                    try:
                        await self.book.open(entry.name, tp)
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
            self.book.drop(lambda lane: lane.tp in revoked)
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
            self._tentative = {}
            async with self.writer.step():
                for tp, run in runs.items():
                    await self._handle_run(TopicPartition(*tp), run, blocked)
            await self._write_cuts()
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
            self.book.drop(lambda lane: True)
            self.processed.clear()
            self._tentative = {}
            self.writer.reset()
            return targets

    def buffered_rows(self) -> int:
        """Rows waiting in memory across lanes."""
        return self.book.buffered_rows()

    @property
    def lanes(self) -> dict[tuple[str, TopicPartition], Lane]:
        """Open lanes by (pipeline, partition)."""
        return self.book.lanes

    @property
    def features(self) -> FeatureViewWriter | None:
        """Folds each stored batch into the pipeline's feature views (None: no views)."""
        return self.writer.features

    @features.setter
    def features(self, writer: FeatureViewWriter | None) -> None:
        self.writer.features = self.book.features = writer

    # -- internals (lock held) --------------------------------------------------------
    async def _check(
        self,
        entry: PipelineEntry,
        tp: TopicPartition,
        offsets: list[int],
        values: list[bytes | None],
    ) -> None:
        lane = await self.book.open(entry.name, tp)
        skip = bisect_right(offsets, lane.covered)  # already in a written batch
        if skip == len(offsets):
            return
        offsets, values = offsets[skip:], values[skip:]
        run = entry.checker.check(tp.partition, offsets, values)
        assert entry.record is not None
        self.metrics.count_checked(
            entry.name, len(run.offsets), [refused.problems for refused in run.rejected]
        )
        for offset, value, problems in run.rejected:
            msg = SourceMessage(tp.topic, tp.partition, offset, value)
            self.writer.reject(rejection_for(entry.name, entry.spec_version, msg, problems))
        # Cut where one message at a time would have: a batch ends at its flush_rows-th row.
        flush_rows, taken = entry.spec.ingest.flush_rows, 0
        while taken < len(run.offsets):
            size = min(flush_rows - lane.row_count, len(run.offsets) - taken)
            lane.add(run.rows.slice(taken, size), run.offsets[taken], entry.record, self.clock())
            self.metrics.buffered_rows.labels(entry.name).inc(size)
            taken += size
            if lane.row_count >= flush_rows:
                lane.last_offset = run.offsets[taken - 1]
                self._cut(lane)
        lane.last_offset = offsets[-1]

    def _cut(self, lane: Lane) -> None:
        """Take a lane's buffer off it, to the writer (durable by :meth:`_write_cuts`)."""
        if lane.row_count:
            self.metrics.buffered_rows.labels(lane.pipeline).dec(lane.row_count)
            self.writer.cut(Cut(lane, lane.detach()))

    async def _write_cuts(self) -> None:
        """Make everything handled so far durable: rejections acked, cut batches announced."""
        await self.writer.durable()
        self.processed.update(self._tentative)
        self._tentative = {}

    async def _flush_lanes(self, which: Callable[[Lane], bool]) -> None:
        for lane in self.book.select(which):
            self._cut(lane)
        await self._write_cuts()
        await self._commit()

    async def _commit(self) -> None:
        offsets: dict[TopicPartition, int] = {}
        for tp in self.owned:
            if tp not in self.processed:
                continue
            point = self.processed[tp] + 1
            first = self.book.first_buffered(tp)
            if first is not None:
                point = min(point, first)
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
