"""The quarantine: a refused record becomes a ``RecordRejected`` event."""

from __future__ import annotations

import uuid

from continuum.contracts import RecordRejected, SourceCoordinates
from continuum.ingest.lanes import BATCH_NAMESPACE
from continuum.ingest.ports import SourceMessage
from continuum.ingest.validation import Problem

RAW_LIMIT_BYTES = 64 * 1024


def rejection_event_id(pipeline: str, msg: SourceMessage, spec_version: int) -> uuid.UUID:
    """Deterministic, so a rejection re-published after a rewind is a duplicate consumers drop."""
    name = f"rejected/{pipeline}/{msg.topic}/{msg.partition}/{msg.offset}/{spec_version}"
    return uuid.uuid5(BATCH_NAMESPACE, name)


def rejection_for(
    pipeline: str, spec_version: int, msg: SourceMessage, problems: list[Problem]
) -> RecordRejected:
    """The event quarantining ``msg``: every reason, its coordinates, the raw text (64 KiB)."""
    raw = (msg.value or b"")[:RAW_LIMIT_BYTES].decode("utf-8", errors="replace")
    return RecordRejected(
        event_id=rejection_event_id(pipeline, msg, spec_version),
        pipeline=pipeline,
        source=SourceCoordinates(topic=msg.topic, partition=msg.partition, offset=msg.offset),
        reasons=[p.to_reason() for p in problems],
        raw=raw,
        spec_version=spec_version,
    )
