"""Writing cut batches: a lane's in order, different lanes and steps side by side.

A poll of several partitions fills several batches. Each must be written (Parquet bytes,
then its manifest), folded into the pipeline's feature views and announced before any
offset it covers is committed. Done one batch after another, ingest spent a large share
of its time idle, waiting on four fsyncs and a broker acknowledgement per batch. Here a
batch starts writing the moment it is cut and the engine's step returns once its writes
have *started* (write-behind): the next polls are checked while they finish, and the
engine commits what a step covered once :class:`Pending` says it is durable
(:mod:`commit_points`). Each lane's batches still go strictly one after the other, across
steps too (a lane's manifest of batch k+1 must not exist before batch k's event is
acknowledged: on restart only a lane's newest manifest is announced again), and a batch
waits for the rejections recorded before it (a manifest says every offset up to its last
is durable, rejections among them included).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from continuum.contracts import Event, utc_now
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.ingest.lanes import Lane, TopicPartition, write_batch
from continuum.ingest.manifest import LaneManifest, ManifestStore
from continuum.ingest.metrics import IngestMetrics
from continuum.ingest.ports import EventPublisher
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cut:
    """A full (or flushed) buffer taken off its lane, waiting to be written."""

    lane: Lane
    """The live lane: its ``covered`` and ``last_event`` move once the batch is announced."""
    rows: Lane
    """The detached buffer (:meth:`Lane.detach`): what the batch holds."""


@dataclass(slots=True)
class Pending:
    """What one engine step started: its batch writes and rejection acknowledgements."""

    done: asyncio.Future[list[None]] | None = None
    """Resolves when all of them are durable, or with the first failure (None: nothing
    was started)."""
    firsts: dict[TopicPartition, int] = field(default_factory=dict)
    """The oldest source offset each partition has in these batches (not durable yet)."""

    def failure(self) -> BaseException | None:
        """The failure it already ended with, if any."""
        done = self.done
        return _failure(done) if done is not None and done.done() else None


def _failure(future: asyncio.Future[Any]) -> BaseException | None:
    return asyncio.CancelledError() if future.cancelled() else future.exception()


def _succeeded(future: asyncio.Future[Any]) -> bool:
    return future.done() and _failure(future) is None


class BatchWriter:
    """Starts, folds and announces cut batches; :meth:`seal` hands a step's writes over."""

    def __init__(
        self,
        store: ObjectStore,
        manifests: ManifestStore,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        features: FeatureViewWriter | None,
    ) -> None:
        self.store = store
        self.manifests = manifests
        self.publisher = publisher
        self.metrics = metrics
        self.features = features
        self._tails: dict[tuple[str, TopicPartition], asyncio.Future[None]] = {}
        """The newest started write of each lane, kept across steps until it succeeded."""
        self._acked: asyncio.Future[None] | None = None
        """The newest started publish of rejections (each waits for the one before)."""
        self._rejected: list[Event] = []
        """Rejections recorded and not yet started."""
        self._started: list[asyncio.Future[None]] = []
        self._firsts: dict[TopicPartition, int] = {}
        self._running: set[asyncio.Future[None]] = set()
        """Every write and publish started and not yet ended (what :meth:`drain` waits for)."""

    # -- one engine step ----------------------------------------------------------------
    def reject(self, event: Event) -> None:
        """A rejection to acknowledge before any later cut's manifest (and the commit)."""
        self._rejected.append(event)

    def cut(self, cut: Cut) -> None:
        """Start writing ``cut`` now, behind its lane's earlier cuts (of any step) and the
        acknowledgement of the rejections recorded so far.

        The caller keeps checking other partitions meanwhile: their CPU work overlaps
        this batch's fsyncs and broker acknowledgement.
        """
        self._publish_rejected()
        key = (cut.lane.pipeline, cut.lane.tp)
        write = self._track(self._write_after(self._tails.get(key), self._acked, cut))
        self._tails[key] = write
        self._started.append(write)
        tp, first = cut.rows.tp, cut.rows.first_offset
        if first is not None:
            self._firsts[tp] = min(first, self._firsts.get(tp, first))

    def seal(self) -> Pending:
        """End a step: start publishing its remaining rejections; what it started."""
        self._publish_rejected()
        started, self._started = self._started, []
        firsts, self._firsts = self._firsts, {}
        # A lane's chain need not wait on a write that succeeded; a failed one stays, so
        # nothing is ever written behind it (until the rewind's reset).
        self._tails = {key: tail for key, tail in self._tails.items() if not _succeeded(tail)}
        return Pending(asyncio.gather(*started) if started else None, firsts)

    async def durable(self, pending: Pending) -> None:
        """Wait until ``pending`` is durable; raise its first failure.

        Shielded: a waiter cancelled (e.g. by a timeout) never cancels the writes.
        """
        if pending.done is not None:
            await asyncio.shield(pending.done)

    async def drain(self) -> None:
        """Wait for every started write and publish to end, failures ignored (they are told
        through :meth:`durable`): nothing is left running behind a rewind or a revoke."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def reset(self) -> None:
        """Forget every chain and what was recorded (a rewind, after :meth:`drain`)."""
        self._tails, self._acked, self._rejected = {}, None, []
        self._started, self._firsts = [], {}

    def _publish_rejected(self) -> None:
        if self._rejected:  # later cuts' manifests wait for these acknowledgements
            events, self._rejected = self._rejected, []
            self._acked = self._track(self._publish_after(self._acked, events))
            self._started.append(self._acked)

    def _track(self, work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        future = asyncio.ensure_future(work)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return future

    async def _publish_after(
        self, earlier: asyncio.Future[None] | None, events: list[Event]
    ) -> None:
        if earlier is not None:
            await asyncio.shield(earlier)  # its failure fails this one
        await self.publisher.publish(events)

    # -- writes -------------------------------------------------------------------------
    async def _write_after(
        self,
        previous: asyncio.Future[None] | None,
        after: asyncio.Future[None] | None,
        cut: Cut,
    ) -> None:
        # Shielded: these are awaited by the step's gather as well, never cancelled here.
        if previous is not None:
            # Its failure fails this one: no manifest past an unwritten batch.
            await asyncio.shield(previous)
        if after is not None:
            await asyncio.shield(after)  # the rejections recorded before this cut
        await self._write_one(cut)

    async def _write_one(self, cut: Cut) -> None:
        started = time.perf_counter()
        manifest = await asyncio.to_thread(self._store, cut.rows)
        await self.publisher.publish([manifest.batch])
        cut.lane.covered, cut.lane.last_event = manifest.last_offset, manifest.batch
        pipeline, rows = cut.rows.pipeline, cut.rows.row_count
        self.metrics.batches.labels(pipeline).inc()
        self.metrics.batch_rows.labels(pipeline).observe(rows)
        self.metrics.flush_seconds.labels(pipeline).observe(time.perf_counter() - started)
        logger.info("batch %s: %d rows of %s", manifest.batch.batch_id, rows, pipeline)

    def _store(self, rows: Lane) -> LaneManifest:
        """Blocking: the Parquet batch and its manifest, then the feature views' fold."""
        manifest = write_batch(rows, self.store, self.manifests, utc_now())
        if self.features is not None and rows.record is not None:
            # Durable batch, offsets not yet committed: a crash replays this fold.
            table = pa.Table.from_batches(rows.chunks)
            self.features.fold_batch(rows.record.spec, manifest.batch, table)
        return manifest
