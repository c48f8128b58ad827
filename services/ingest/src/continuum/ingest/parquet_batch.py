"""Checked rows -> the bytes of one immutable Parquet batch, with the numbers its event reports.

The Arrow schema comes from the spec, so every batch of a spec version has the same
columns and types whatever the rows hold (an all-null column is still ``float64``):
features in spec order (numeric ``float64``, categorical ``string``), the target
(``float64`` for regression, ``int64`` for classification), the event time
(``timestamp[us, UTC]``), the entity id (``string``) when the spec has one, then the
lineage columns ``_source_partition`` and ``_source_offset`` (the Kafka coordinates of
each row; the topic is the spec's ``source_topic``).

Encoding is deterministic (same rows, same spec -> same bytes), so rewriting a batch
after a crash is an idempotent ``put``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from continuum.contracts import NumericFeature, PipelineSpec

SOURCE_PARTITION = "_source_partition"
SOURCE_OFFSET = "_source_offset"


@dataclass(frozen=True, slots=True)
class BatchStats:
    """What a ``DataBatchReady`` event says about a batch's rows."""

    row_count: int
    labelled_row_count: int
    min_event_time: datetime | None
    max_event_time: datetime | None


@dataclass(frozen=True, slots=True)
class EncodedBatch:
    """Parquet bytes and their summary."""

    data: bytes
    stats: BatchStats


def arrow_schema(spec: PipelineSpec) -> pa.Schema:
    """The columns (and types) of every batch written under ``spec``."""
    schema = spec.record_schema
    fields = [
        pa.field(f.name, pa.float64() if isinstance(f, NumericFeature) else pa.string())
        for f in schema.features
    ]
    target_type = pa.float64() if spec.task == "regression" else pa.int64()
    fields.append(pa.field(schema.target.name, target_type))
    fields.append(pa.field(schema.event_time, pa.timestamp("us", tz="UTC"), nullable=False))
    if schema.entity_id:
        fields.append(pa.field(schema.entity_id, pa.string()))
    fields.append(pa.field(SOURCE_PARTITION, pa.int32(), nullable=False))
    fields.append(pa.field(SOURCE_OFFSET, pa.int64(), nullable=False))
    return pa.schema(fields)


def encode_batch(spec: PipelineSpec, chunks: Sequence[pa.RecordBatch]) -> EncodedBatch:
    """Parquet bytes of ``chunks`` (checked rows of one partition with :func:`arrow_schema`).

    The chunks are joined first, so the bytes depend on the rows alone, not on how the
    polls that brought them were cut.
    """
    table = pa.Table.from_batches(chunks, schema=arrow_schema(spec)).combine_chunks()
    sink = io.BytesIO()
    pq.write_table(table, sink, use_dictionary=dictionary_columns(spec) or False)
    return EncodedBatch(data=sink.getvalue(), stats=stats_of(spec, table))


def dictionary_columns(spec: PipelineSpec) -> list[str]:
    """The columns worth dictionary-encoding: categorical features (a small vocabulary).

    Parquet's default dictionary-encodes every column. For measurements (floats that
    rarely repeat), entity ids and times the dictionary is abandoned or useless: writing
    it was a third of the encode time, and the batch came out larger (flights: 2,000
    rows, 0.82 -> 0.56 µs per row, 96.6 -> 86.0 kB).
    """
    return [f.name for f in spec.record_schema.features if not isinstance(f, NumericFeature)]


def stats_of(spec: PipelineSpec, table: pa.Table) -> BatchStats:
    """Row counts and event-time bounds of a batch table."""
    times = table.column(spec.record_schema.event_time)
    bounds = pc.min_max(times)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return BatchStats(
        row_count=table.num_rows,
        labelled_row_count=table.num_rows - table.column(spec.record_schema.target.name).null_count,
        min_event_time=low,
        max_event_time=high,
    )


def describe_parquet(spec: PipelineSpec, data: bytes) -> BatchStats:
    """The summary of an already written batch (used when a replay finds it on disk)."""
    return stats_of(spec, pq.read_table(io.BytesIO(data)))
