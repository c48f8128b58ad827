"""Polling without aiokafka's per-record ``ConsumerRecord``: ingest reads offset and value only.

aiokafka decodes a fetched record batch (in C) into record objects that already carry
``offset`` and ``value``, then wraps each in a ``ConsumerRecord`` dataclass of eleven
fields (sizes, checksum, a tuple of headers). Profiling ingest on 200,000 records put
that wrapping at a quarter of the poll's cost, about as much as a raw consumer spends on
everything else, for fields the engine never reads.

A consumer opts in by passing :data:`RAW_VALUES` as its ``value_deserializer``; its polls
then yield the decoded record objects themselves (offset, value, key, timestamp,
headers). Every other consumer in the process (FastStream's among them) keeps aiokafka's
records: the choice is made per fetch, by the marker. If a future aiokafka moves the
wrapping elsewhere, the marker is an identity function and the consumer still gets
ordinary ``ConsumerRecord`` objects: slower, never wrong. :func:`lean_records_active`
says which path is in use (a test pins it to aiokafka's version).
"""

from __future__ import annotations

from typing import Any

from aiokafka.consumer import fetcher as _fetcher


def _identity(value: bytes | None) -> bytes | None:
    return value


RAW_VALUES = _identity
"""The ``value_deserializer`` that asks for lean records (values stay bytes either way)."""

_BasePartitionRecords: Any = _fetcher.PartitionRecords


class _LeanPartitionRecords(_BasePartitionRecords):  # type: ignore[misc]
    """aiokafka's fetched-partition iterator; lean for a consumer that asked for it."""

    def _consumer_record(self, tp: Any, record: Any) -> Any:
        if self._value_deserializer is RAW_VALUES:
            return record  # offset and value as decoded; nothing else is read
        return super()._consumer_record(tp, record)


def install_lean_records() -> None:
    """Make fetches of :data:`RAW_VALUES` consumers lean (idempotent, process-wide)."""
    if _fetcher.PartitionRecords is _BasePartitionRecords and hasattr(
        _BasePartitionRecords, "_consumer_record"
    ):
        _fetcher.PartitionRecords = _LeanPartitionRecords


def lean_records_active() -> bool:
    """Whether fetches of :data:`RAW_VALUES` consumers skip ``ConsumerRecord``."""
    return _fetcher.PartitionRecords is _LeanPartitionRecords
