"""An in-memory online store: the fake for unit tests (``memory://``)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from continuum.featurestore.base import (
    FeatureRow,
    as_of_micros,
    clean_values,
    newest_per_entity,
)


class MemoryOnlineStore:
    """Rows in a dict, behind a lock; nothing survives the process."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], FeatureRow] = {}
        self._lock = threading.Lock()

    def write(self, view: str, rows: Sequence[FeatureRow]) -> None:
        """Upsert ``rows``, ignoring any older than the stored row of their entity."""
        with self._lock:
            for entity, row in newest_per_entity(rows).items():
                held = self._rows.get((view, entity))
                if held is None or as_of_micros(row.as_of) >= as_of_micros(held.as_of):
                    values = clean_values(row.values)
                    self._rows[(view, entity)] = FeatureRow(entity, row.as_of, values)

    def read(self, view: str, entities: Sequence[str]) -> dict[str, FeatureRow]:
        """The stored rows of ``entities`` (absent if never written)."""
        with self._lock:
            found = {e: self._rows.get((view, e)) for e in entities}
        return {e: row for e, row in found.items() if row is not None}

    def close(self) -> None:
        """Nothing to release."""
