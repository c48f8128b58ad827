"""Parquet encoding: schema from the spec, deterministic bytes, the numbers the event reports."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
from ingest_testkit import good, make_spec

from continuum.ingest.batch_check import BatchChecker
from continuum.ingest.parquet_batch import arrow_schema, describe_parquet, encode_batch

SPEC = make_spec()


def _rows(partition: int, first: int, *records: dict[str, object]) -> pa.RecordBatch:
    values = [json.dumps(record).encode() for record in records]
    run = BatchChecker(SPEC).check(partition, range(first, first + len(values)), values)
    assert not run.rejected
    return run.rows


def test_schema_follows_the_spec() -> None:
    schema = arrow_schema(SPEC)
    assert schema.names == [
        "distance",
        "dep_hour",
        "carrier",
        "origin",
        "late",
        "time_hour",
        "flight_id",
        "_source_partition",
        "_source_offset",
    ]
    assert schema.field("distance").type == pa.float64()
    assert schema.field("carrier").type == pa.string()
    assert schema.field("late").type == pa.int64()
    assert schema.field("time_hour").type == pa.timestamp("us", tz="UTC")


def test_encode_roundtrip_stats_and_determinism() -> None:
    records = [
        good(time_hour="2013-01-02T00:00:00", late=None, dep_hour=None),
        good(time_hour="2013-01-01T00:00:00"),
        good(time_hour="2013-01-03T00:00:00Z", late=False),
    ]
    encoded = encode_batch(SPEC, [_rows(2, 10, *records)])
    assert encoded.stats.row_count == 3
    assert encoded.stats.labelled_row_count == 2
    assert encoded.stats.min_event_time == datetime(2013, 1, 1, tzinfo=UTC)
    assert encoded.stats.max_event_time == datetime(2013, 1, 3, tzinfo=UTC)
    table = pq.read_table(io.BytesIO(encoded.data))
    assert table.column("late").to_pylist() == [None, 1, 0]
    assert table.column("dep_hour").to_pylist() == [None, 5.0, 5.0]
    assert table.column("_source_offset").to_pylist() == [10, 11, 12]
    assert table.column("_source_partition").to_pylist() == [2, 2, 2]
    assert describe_parquet(SPEC, encoded.data) == encoded.stats
    # The same rows polled in other pieces: the same bytes (a rewrite after a crash).
    assert encode_batch(SPEC, [_rows(2, 10, *records)]).data == encoded.data
    pieces = [_rows(2, 10, records[0]), _rows(2, 11, *records[1:])]
    assert encode_batch(SPEC, pieces).data == encoded.data


def test_all_null_column_keeps_its_type() -> None:
    encoded = encode_batch(SPEC, [_rows(0, 0, good(dep_hour=None, origin=None))])
    table = pq.read_table(io.BytesIO(encoded.data))
    assert table.schema.field("dep_hour").type == pa.float64()
    assert table.schema.field("origin").type == pa.string()


def test_only_categorical_columns_are_dictionary_encoded() -> None:
    records = [good(distance=100.0 + i, carrier="UA" if i % 2 else "AA") for i in range(50)]
    encoded = encode_batch(SPEC, [_rows(0, 0, *records)])
    metadata = pq.ParquetFile(io.BytesIO(encoded.data)).metadata.row_group(0)
    dictionary = {
        metadata.column(i).path_in_schema
        for i in range(metadata.num_columns)
        if metadata.column(i).dictionary_page_offset is not None
    }
    assert dictionary == {"carrier", "origin"}
    assert pq.read_table(io.BytesIO(encoded.data)).column("carrier").to_pylist()[:2] == [
        "AA",
        "UA",
    ]
