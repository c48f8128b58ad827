"""The envelope every Continuum event shares.

Every event is a frozen pydantic model. ``event_id`` is the idempotency key a
consumer deduplicates on; ``correlation_id`` follows one chain through the loop
(data batch -> training run -> model version -> promotion -> drift -> retrain).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, ClassVar
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

PIPELINE_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
_PIPELINE_NAME_RE = re.compile(PIPELINE_NAME_PATTERN)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
"""A timezone-aware datetime, normalised to UTC (naive datetimes are refused)."""

PipelineName = Annotated[
    str,
    Field(
        pattern=PIPELINE_NAME_PATTERN,
        description="Lower-case pipeline name; the Kafka message key of its events.",
    ),
]

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Hex sha256 digest.")]

MAX_VERSION = 2**31 - 1
"""The largest spec or model version: the registry keeps versions in 32-bit integer
columns (PostgreSQL ``INTEGER``), so a larger one is refused where it enters (422)."""

VersionNumber = Annotated[
    int, Field(ge=1, le=MAX_VERSION, description="A spec or model version (1, 2, ...).")
]


def is_valid_pipeline_name(name: str) -> bool:
    """Whether ``name`` may name a pipeline (and so key its events)."""
    return bool(_PIPELINE_NAME_RE.match(name))


class Contract(BaseModel):
    """Base for every value object in the contracts: immutable, strict about unknown fields."""

    # Tolerant reader: fields added by a newer producer are ignored, not refused, so
    # additive schema changes stay compatible. Removing or retyping a field is breaking.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(Contract):
    """The common envelope. Subclasses fix ``event_type`` with a ``Literal`` default."""

    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID = Field(default_factory=uuid4, description="Idempotency key.")
    event_type: str
    schema_version: int = Field(default=1, ge=1)
    occurred_at: UtcDatetime = Field(default_factory=utc_now)
    pipeline: PipelineName
    correlation_id: UUID = Field(
        default_factory=uuid4,
        description="Shared by every event of one chain through the loop.",
    )
