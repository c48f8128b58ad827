"""The ingest engine: records in, rejections and batches out, offsets committed when safe.

Kafka-free (a publisher and a committer are injected), so the whole "nothing lost, no
duplicates" logic is unit-tested with fakes. The consumer loop feeds it polled messages.

The rule behind every commit: a partition's offset is committed only up to the first
message that is not yet durable, i.e. not in a written, recorded and announced batch
and not a rejection acknowledged by Kafka (:mod:`commit_points`).

Write-behind: a batch starts writing when it is cut (:mod:`batch_writes`: behind its
lane's earlier batches and the rejections so far); a step returns once its writes
started and the next polls are checked while they end (at most ``in_flight_steps``
steps unsettled). A failed write is raised by a later call: then :meth:`rewind`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence

from continuum.ingest.batch_check import BatchChecker
from continuum.ingest.batch_writes import BatchWriter, Cut
from continuum.ingest.catalog import Catalog, PipelineEntry
from continuum.ingest.commit_points import CommitPoints
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
        in_flight_steps: int = 2,
    ) -> None:
        """``in_flight_steps``: how many steps' writes may be unsettled at a time (a new
        step waits for the oldest beyond that)."""
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
        self.commits = CommitPoints(self.writer, committer, in_flight_steps, self._on_durable)
        self.owned: set[TopicPartition] = set()
        self._checked: dict[TopicPartition, int] = {}

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
            await self.book.catch_up(record.spec)
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
        """Give partitions away: flush their lanes, wait for every write in flight and
        commit while we still own them (no write of ours runs on under the next owner)."""
        revoked = set(tps)
        async with self.lock:
            try:
                await self._flush_lanes(lambda lane: lane.tp in revoked)
            except Exception:  # not committed, so the next owner reads them again
                logger.exception("flush on revoke failed; the next owner re-reads the rows")
                await self._commit()  # the steps settled before the failure are durable
            self.book.drop(lambda lane: lane.tp in revoked)
            self.owned -= revoked
            self.commits.forget(revoked)

    # -- data -------------------------------------------------------------------------
    async def handle(
        self, messages: Sequence[SourceMessage] | Mapping[TopicPartition, Sequence[Polled]]
    ) -> dict[TopicPartition, int]:
        """Process polled messages (in offset order per partition), a run per partition.

        ``messages`` is a list of messages or, as the consumer polls them, each
        partition's records. Returns the partitions that must wait for a spec, with the
        offset to seek back to, once the batches it cut started writing. After it raised
        (a check's failure or an earlier write's) the caller must :meth:`rewind`.
        """
        runs = messages if isinstance(messages, Mapping) else by_partition(messages)
        blocked: dict[TopicPartition, int] = {}
        async with self.lock:
            self._checked = {}
            if runs:  # its writes may not exceed the bound
                await self.commits.make_room()
            try:
                for tp, run in runs.items():
                    await self._handle_run(TopicPartition(*tp), run, blocked)
            except BaseException:
                # The check's failure is the one told; the writes it started are tracked
                # and end first (never left running behind the rewind).
                self.commits.add(self.writer.seal(), {})
                await self.writer.drain()
                raise
            self.commits.add(self.writer.seal(), self._checked)
            await self._settle_and_commit()
        return blocked

    async def _handle_run(
        self, tp: TopicPartition, run: Sequence[Polled], blocked: dict[TopicPartition, int]
    ) -> None:
        if not run or tp not in self.owned:
            return
        self.commits.session_start.setdefault(tp, run[0].offset)
        entries = self.catalog.for_topic(tp.topic)
        if not all(e.ready for e in entries):
            blocked[tp] = run[0].offset
            return
        offsets = [m.offset for m in run]
        values = [m.value for m in run]
        for entry in entries:
            await self._check(entry, tp, offsets, values)
        self._checked[tp] = offsets[-1]  # processed once the step's writes are durable

    async def flush_due(self) -> None:
        """Flush (write-behind) each lane whose oldest row waited ``flush_seconds``; commit."""
        now = self.clock()
        async with self.lock:
            await self.commits.settle_done()
            due = self.book.select(
                lambda lane: (
                    lane.started_at is not None
                    and lane.record is not None
                    and now - lane.started_at >= lane.record.spec.ingest.flush_seconds
                )
            )
            if due:
                await self.commits.make_room()
                for lane in due:
                    self._cut(lane)
                self.commits.add(self.writer.seal(), {})
            await self._settle_and_commit()

    async def flush_all(self) -> None:
        """Flush every buffered row, wait for every write and commit (on shutdown)."""
        async with self.lock:
            await self._flush_lanes(lambda lane: True)

    async def settle(self) -> None:
        """Wait for every write in flight and commit what it covers (no lane is flushed)."""
        async with self.lock:
            await self._flush_lanes(lambda lane: False)

    async def rewind(self) -> dict[TopicPartition, int]:
        """After a failure: drop every buffer and lane; the offsets to seek each partition to.

        Nothing past the committed offsets is durable-and-committed, so reading again from
        there loses nothing; manifests make the re-read skip rows already in batches. Writes
        in flight end first (none runs on behind the re-read).
        """
        async with self.lock:
            self.metrics.recoveries.inc()
            await self.commits.abandon()
            self.book.drop(lambda lane: True)
            return self.commits.restart_points(self.owned)

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
        """Take a lane's buffer off it, to the writer (it starts writing now)."""
        if lane.row_count:
            self.metrics.buffered_rows.labels(lane.pipeline).dec(lane.row_count)
            self.writer.cut(Cut(lane, lane.detach()))

    async def _flush_lanes(self, which: Callable[[Lane], bool]) -> None:
        """Cut the lanes ``which`` picks, wait for every write in flight, commit."""
        for lane in self.book.select(which):
            self._cut(lane)
        self.commits.add(self.writer.seal(), {})
        await self.commits.settle_all()
        await self._commit()

    async def _commit(self) -> None:
        await self.commits.commit(self.owned, self.book.first_buffered)

    async def _settle_and_commit(self) -> None:
        await self.commits.settle_done()
        await self._commit()

    async def _on_durable(self) -> None:
        """A step's writes ended: commit now, not at the next poll (which may be a tick away)."""
        async with self.lock:
            with contextlib.suppress(Exception):  # a failure is raised by the next call
                await self._settle_and_commit()
