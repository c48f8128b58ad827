"""Lean polls: the source consumer's fetches yield offset and value without ConsumerRecord."""

from __future__ import annotations

from typing import Any

import aiokafka
from aiokafka import TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord

from continuum.ingest.kafka_io import make_source_consumer
from continuum.ingest.lean_fetch import RAW_VALUES, install_lean_records, lean_records_active
from continuum.kafka import KafkaSettings

TP = TopicPartition("flights.events", 2)
VALUES = [b'{"a": 1}', None, b"not json", b'{"b": 2}']


def fetched(value_deserializer: Any, *, first: int = 40, fetch_offset: int = 40) -> list[Any]:
    """What aiokafka's fetcher hands a poll for one batch of ``VALUES`` at ``first``."""
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=0,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i, value in enumerate(VALUES):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=b"k", value=value, headers=[])
    data = bytearray(builder.build())
    data[0:8] = first.to_bytes(8, "big")  # the batch's base offset
    records = fetcher.PartitionRecords(
        TP, MemoryRecords(bytes(data)), [], fetch_offset, None, value_deserializer, True, 0
    )
    return list(records)


def test_a_raw_values_consumer_gets_the_same_offsets_and_values_without_consumer_records() -> None:
    install_lean_records()
    assert lean_records_active(), f"aiokafka {aiokafka.__version__} moved the record wrapping"
    lean, full = fetched(RAW_VALUES), fetched(None)
    assert [(r.offset, r.value) for r in lean] == [(r.offset, r.value) for r in full]
    assert [r.offset for r in lean] == [40, 41, 42, 43]
    assert not any(isinstance(r, ConsumerRecord) for r in lean)
    assert all(isinstance(r, ConsumerRecord) for r in full)


def test_records_before_the_fetch_position_are_still_skipped() -> None:
    install_lean_records()
    assert [r.offset for r in fetched(RAW_VALUES, fetch_offset=42)] == [42, 43]


def test_other_consumers_keep_aiokafkas_records() -> None:
    install_lean_records()
    install_lean_records()  # idempotent: one wrapper, not a chain of them
    identity = fetched(lambda value: value)
    assert all(isinstance(r, ConsumerRecord) for r in identity)
    assert identity[1].value is None and identity[0].key == b"k"


async def test_the_source_consumer_asks_for_lean_records() -> None:
    consumer = make_source_consumer(
        KafkaSettings(), group_id="g", max_records=10, metadata_refresh_seconds=5
    )
    assert consumer._value_deserializer is RAW_VALUES
    assert lean_records_active()
