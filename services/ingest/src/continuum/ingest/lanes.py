"""A lane is one pipeline's rows from one source partition; a batch is one lane's flush.

Batching per partition (not across partitions) keeps each batch's offset range one
contiguous run, lets one manifest object record a batch atomically, and lets a
rebalance hand a partition to another consumer without two owners writing one lane.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import pyarrow as pa

from continuum.contracts import DataBatchReady, OffsetRange, StoredObject, batch_id_for
from continuum.ingest.manifest import LaneManifest, ManifestStore
from continuum.ingest.parquet_batch import describe_parquet, encode_batch
from continuum.registry_client import PipelineSpecRecord
from continuum.storage import ObjectStore, sha256_hex

logger = logging.getLogger(__name__)

BATCH_NAMESPACE = uuid.UUID("6f1d3c52-2b7e-4d0a-9a55-7c3e1f0b9d21")
"""uuid5 namespace of batch event ids: the same batch always has the same event id."""


class TopicPartition(NamedTuple):
    """A source partition (equal to aiokafka's ``TopicPartition`` of the same values)."""

    topic: str
    partition: int


def batch_key(pipeline: str, batch_id: str) -> str:
    """Where a batch's Parquet bytes live in the offline store."""
    return f"batches/{pipeline}/{batch_id}.parquet"


def batch_event_id(batch_id: str) -> uuid.UUID:
    """The deterministic event id of a batch's ``DataBatchReady`` (a replay is a duplicate)."""
    return uuid.uuid5(BATCH_NAMESPACE, batch_id)


def batch_correlation_id(batch_id: str) -> uuid.UUID:
    """The deterministic correlation id a batch starts its chain with."""
    return uuid.uuid5(BATCH_NAMESPACE, f"correlation/{batch_id}")


@dataclass(slots=True)
class Lane:
    """Buffered rows of one (pipeline, partition) and what is already in written batches."""

    pipeline: str
    tp: TopicPartition
    covered: int = -1
    """Last source offset in a written batch: messages up to here are skipped."""
    last_event: DataBatchReady | None = None
    chunks: list[pa.RecordBatch] = field(default_factory=list)
    """Buffered rows (the batch schema, lineage included), in offset order."""
    row_count: int = 0
    first_offset: int | None = None
    """Offset of the oldest buffered row."""
    record: PipelineSpecRecord | None = None
    """The spec the buffered rows were checked by."""
    last_offset: int = -1
    """Last source offset this lane looked at (a row or a rejected record)."""
    started_at: float | None = None
    """Monotonic time the oldest buffered row arrived (for time-based flushes)."""

    def add(
        self, rows: pa.RecordBatch, first_offset: int, record: PipelineSpecRecord, now: float
    ) -> None:
        """Buffer checked rows (``first_offset`` is the first one's source offset)."""
        if not self.row_count:
            self.started_at = now
            self.record = record
            self.first_offset = first_offset
        self.chunks.append(rows)
        self.row_count += rows.num_rows

    def detach(self) -> Lane:
        """Take the buffer away: a lane holding it (to write), this one left empty."""
        rows = Lane(
            self.pipeline,
            self.tp,
            chunks=self.chunks,
            row_count=self.row_count,
            first_offset=self.first_offset,
            record=self.record,
            last_offset=self.last_offset,
            started_at=self.started_at,
        )
        self.clear()
        return rows

    def clear(self) -> None:
        """Forget the buffer (after a flush, or when giving the partition away)."""
        self.chunks = []
        self.row_count = 0
        self.first_offset = None
        self.started_at = None


def write_batch(
    lane: Lane, store: ObjectStore, manifests: ManifestStore, occurred_at: datetime
) -> LaneManifest:
    """Write a lane's rows as a Parquet batch, then its manifest; return the manifest.

    Blocking (run it in a thread). Both writes are idempotent, so a flush retried after a
    crash with the same offsets yields the same batch id, bytes and event id.
    """
    if not lane.row_count or lane.first_offset is None or lane.record is None:
        raise ValueError("nothing to write")
    spec = lane.record.spec
    ranges = [
        OffsetRange(
            topic=lane.tp.topic,
            partition=lane.tp.partition,
            first=lane.first_offset,
            last=lane.last_offset,
        )
    ]
    batch_id = batch_id_for(lane.pipeline, ranges)
    key = batch_key(lane.pipeline, batch_id)
    encoded = encode_batch(spec, lane.chunks)
    stats = encoded.stats
    try:
        stored = store.put(key, encoded.data)
    except FileExistsError:
        # These exact offsets were written before a crash, but the bytes differ (another
        # spec version or library version encoded them): that object *is* the batch.
        logger.warning("batch %s already exists with other bytes; announcing it as is", key)
        data = store.get(store.uri_for(key))
        stored = StoredObject(uri=store.uri_for(key), sha256=sha256_hex(data), size_bytes=len(data))
        stats = describe_parquet(spec, data)
    event = DataBatchReady(
        event_id=batch_event_id(batch_id),
        correlation_id=batch_correlation_id(batch_id),
        occurred_at=occurred_at,
        pipeline=lane.pipeline,
        batch_id=batch_id,
        offset_ranges=ranges,
        storage=stored,
        row_count=stats.row_count,
        labelled_row_count=stats.labelled_row_count,
        min_event_time=stats.min_event_time,
        max_event_time=stats.max_event_time,
        spec_version=lane.record.spec_version,
    )
    manifest = LaneManifest(
        pipeline=lane.pipeline,
        topic=lane.tp.topic,
        partition=lane.tp.partition,
        last_offset=lane.last_offset,
        batch=event,
    )
    manifests.record(manifest)
    return manifest
