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
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from continuum.contracts import utc_now
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
