"""Writing the batches one engine step cut: a lane's in order, different lanes side by side.

A poll of several partitions fills several batches. Each must be written (Parquet bytes,
then its manifest), folded into the pipeline's feature views and announced before any
offset it covers is committed. Done one batch after another, ingest spent a large share
of its time idle, waiting on four fsyncs and a broker acknowledgement per batch. Here
each lane's batches still go strictly one after the other (a lane's manifest of batch
k+1 must not exist before batch k's event is acknowledged: on restart only a lane's
newest manifest is announced again), while different lanes' batches overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pyarrow as pa

from continuum.contracts import Event, utc_now
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.ingest.lanes import Lane, write_batch
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


class BatchWriter:
    """Writes, folds and announces cut batches; returns once every one is announced."""

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
        self._tails: dict[int, asyncio.Task[None]] = {}
        """The newest started write of each lane (by the live lane's id)."""
        self.overlap = False
        """Start each cut at once (within a poll step) rather than queue it."""
        self._pending: list[Event] = []
        self._acked: asyncio.Future[None] | None = None
        self._queued: list[Cut] = []

    # -- one engine step ----------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def step(self) -> AsyncIterator[None]:
        """A poll step's checks: cuts start at once; if the checks fail, the writes
        started are waited for (never left running behind a rewind) and the failure told."""
        self.reset()
        self.overlap = True
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):  # the check's failure is the one to tell
                await self.settle_started()
            raise
        finally:
            self.overlap = False

    def reject(self, event: Event) -> None:
        """A rejection to acknowledge before any later cut's manifest (and the commit)."""
        self._pending.append(event)

    def cut(self, cut: Cut) -> None:
        """A full buffer: started now (behind the rejections so far) or queued."""
        if not self.overlap:
            self._queued.append(cut)
            return
        if self._pending:  # the cut's manifest waits for these acknowledgements
            events, self._pending = self._pending, []
            self._acked = asyncio.ensure_future(self._publish_after(self._acked, events))
        self.start(cut, self._acked)

    async def durable(self) -> None:
        """Everything given so far acknowledged and announced; raise the first failure.

        Rejections go first: a manifest says every message up to its last offset is
        durable, so rejections among those offsets must be acknowledged before it exists.
        """
        if self._pending:
            events, self._pending = self._pending, []
            await self.publisher.publish(events)
        await self.settle_started()
        if self._queued:
            cuts, self._queued = self._queued, []
            await self.write(cuts)

    def reset(self) -> None:
        """Forget what was given and not yet made durable (a new step, or a rewind)."""
        self._pending, self._acked, self._queued = [], None, []

    async def settle_started(self) -> None:
        """Wait for the writes started and the rejections they waited on."""
        try:
            await self.settle()
        finally:
            if self._acked is not None:  # a failure here failed the cuts behind it too
                acked, self._acked = self._acked, None
                await asyncio.gather(acked, return_exceptions=True)

    async def _publish_after(
        self, earlier: asyncio.Future[None] | None, events: list[Event]
    ) -> None:
        if earlier is not None:
            await earlier
        await self.publisher.publish(events)

    # -- writes -------------------------------------------------------------------------

    def start(self, cut: Cut, after: asyncio.Future[None] | None) -> None:
        """Start writing ``cut`` now, behind its lane's earlier cuts and ``after`` (the
        acknowledgement of the rejections among its offsets); :meth:`settle` awaits it.

        The caller keeps checking other partitions meanwhile: their CPU work overlaps
        this batch's fsyncs and broker acknowledgement.
        """
        previous = self._tails.get(id(cut.lane))
        self._tails[id(cut.lane)] = asyncio.ensure_future(self._write_after(previous, after, cut))

    async def settle(self) -> None:
        """Wait for every started write to end; raise the first failure.

        Every chain runs to its end or its first failure before this returns, so a
        failure never leaves a write running behind the caller's rewind.
        """
        tails, self._tails = list(self._tails.values()), {}
        outcomes = await asyncio.gather(*tails, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _write_after(
        self,
        previous: asyncio.Task[None] | None,
        after: asyncio.Future[None] | None,
        cut: Cut,
    ) -> None:
        if previous is not None:
            await previous  # its failure fails this one: no manifest past an unwritten batch
        if after is not None:
            await asyncio.shield(after)  # shared by the cuts of the step so far
        await self._write_one(cut)

    async def write(self, cuts: Sequence[Cut]) -> None:
        """Write ``cuts`` (each lane's in the given order); raise the first failure.

        Every lane's chain runs to its end or its first failure before this returns, so a
        failure never leaves a write running behind the caller's rewind.
        """
        chains: dict[int, list[Cut]] = {}
        for cut in cuts:
            chains.setdefault(id(cut.lane), []).append(cut)
        outcomes = await asyncio.gather(
            *(self._write_chain(chain) for chain in chains.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _write_chain(self, chain: Sequence[Cut]) -> None:
        for cut in chain:
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
