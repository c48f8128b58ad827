"""Events about data: batches written by ingest, records it rejected, feedback labels."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, JsonValue, model_validator

from continuum.contracts.envelope import Contract, Event, Sha256, UtcDatetime


class OffsetRange(Contract):
    """An inclusive range of Kafka offsets in one topic partition."""

    topic: str
    partition: int = Field(ge=0)
    first: int = Field(ge=0)
    last: int = Field(ge=0)


class StoredObject(Contract):
    """Bytes in an object store (Parquet batch, model artifact...): where and which."""

    uri: str = Field(description="Storage URI, e.g. file:///var/continuum/data/x.parquet")
    sha256: Sha256
    size_bytes: int = Field(ge=0)


def batch_id_for(pipeline: str, ranges: list[OffsetRange]) -> str:
    """Deterministic batch id from the offsets a batch covers, so a replay reuses it."""
    canonical = ";".join(
        f"{r.topic}:{r.partition}:{r.first}-{r.last}"
        for r in sorted(ranges, key=lambda r: (r.topic, r.partition, r.first))
    )
    digest = hashlib.sha256(f"{pipeline}|{canonical}".encode()).hexdigest()
    return f"b-{digest[:24]}"


class DataBatchReady(Event):
    """Ingest wrote an immutable Parquet batch of valid rows and made it durable."""

    event_type: Literal["continuum.data.batch_ready"] = "continuum.data.batch_ready"
    batch_id: str
    offset_ranges: list[OffsetRange] = Field(min_length=1)
    storage: StoredObject
    row_count: int = Field(ge=0)
    labelled_row_count: int = Field(ge=0)
    min_event_time: UtcDatetime | None = None
    max_event_time: UtcDatetime | None = None
    spec_version: int = Field(ge=1, description="Pipeline spec version the rows were checked by.")


class SourceCoordinates(Contract):
    """Where a message came from in Kafka."""

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class RejectionReason(Contract):
    """One reason a record was refused: the field (or ``$`` for the whole record) and why."""

    field: str
    reason: str


class RecordRejected(Event):
    """Ingest quarantined a record that failed its pipeline's schema."""

    event_type: Literal["continuum.records.rejected"] = "continuum.records.rejected"
    source: SourceCoordinates
    reasons: list[RejectionReason] = Field(min_length=1)
    raw: str = Field(description="The record as received (UTF-8, truncated to 64 KiB).")
    spec_version: int | None = None


class Feedback(Event):
    """Delayed ground truth for an earlier prediction (by request id) or entity."""

    event_type: Literal["continuum.feedback"] = "continuum.feedback"
    request_id: str | None = None
    entity_id: str | None = None
    label: JsonValue
    event_time: UtcDatetime | None = None

    @model_validator(mode="after")
    def _needs_join_key(self) -> Feedback:
        if not (self.request_id or self.entity_id):
            raise ValueError("feedback needs a request_id or an entity_id to join on")
        return self
