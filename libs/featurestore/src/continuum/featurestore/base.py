"""What an online feature store holds and the interface every backend implements.

A row is one entity's values of one feature view, with the event time of the newest
event folded into them. Writes are upserts that never go back in time, so a replayed
batch (an older ``as_of``) cannot overwrite newer values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

FeatureValue = float | str | None
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class FeatureRow:
    """One entity's values of one view, as of just after its newest event ``as_of``."""

    entity: str
    """The entity key (``continuum.contracts.entity_key`` of the record's value)."""
    as_of: datetime
    """UTC event time of the newest event folded into these values."""
    values: dict[str, FeatureValue]
    """Feature name -> value (``None``: missing)."""


def view_key(pipeline: str, view: str) -> str:
    """The store's name for a pipeline's view: ``"<pipeline>/<view>"``.

    Views are named per spec, so two pipelines may both have a view ``user_recent``;
    callers always pass this qualified name as ``view`` to the store.
    """
    return f"{pipeline}/{view}"


class OnlineStore(Protocol):
    """The newest feature values per (view, entity); blocking (wrap in a thread in async code).

    ``view`` is always the pipeline-qualified name from :func:`view_key`
    (``"<pipeline>/<view>"``), so pipelines never share keys. Implementations are safe
    to use from one writer process and many reader processes at once.
    """

    def write(self, view: str, rows: Sequence[FeatureRow]) -> None:
        """Upsert ``rows``; a row whose ``as_of`` is older than the stored one is ignored.

        One call is one round trip / transaction, so write a whole batch at once.
        """
        ...

    def read(self, view: str, entities: Sequence[str]) -> dict[str, FeatureRow]:
        """The stored rows of ``entities``; entities never written are absent."""
        ...

    def close(self) -> None:
        """Release connections (idempotent)."""
        ...


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def as_of_micros(moment: datetime) -> int:
    """Microseconds since the epoch (exact, comparable across backends)."""
    delta = as_utc(moment) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC datetime of :func:`as_of_micros`."""
    return EPOCH + timedelta(microseconds=micros)


def clean_values(values: dict[str, FeatureValue]) -> dict[str, FeatureValue]:
    """A copy of ``values`` with NaN as ``None``: every store keeps missing as ``None``."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in values.items()}


def encode_values(values: dict[str, FeatureValue]) -> str:
    """The stored form of a row's values (JSON; NaN is stored as missing)."""
    return json.dumps(clean_values(values), separators=(",", ":"), sort_keys=True)


def decode_values(text: str | bytes) -> dict[str, FeatureValue]:
    """A row's values from :func:`encode_values`."""
    decoded: dict[str, FeatureValue] = json.loads(text)
    return decoded


def newest_per_entity(rows: Sequence[FeatureRow]) -> dict[str, FeatureRow]:
    """One row per entity: the last of the newest ``as_of`` (a batch may repeat one)."""
    chosen: dict[str, FeatureRow] = {}
    for row in rows:
        held = chosen.get(row.entity)
        if held is None or as_utc(row.as_of) >= as_utc(held.as_of):
            chosen[row.entity] = row
    return chosen
