"""The embedded online store: one SQLite file (``sqlite:///abs/path.db``), the default.

WAL journaling lets ingest write while serving reads from another process; the upsert's
``WHERE`` keeps the newer row, so a replayed (older) write changes nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from continuum.featurestore.base import (
    FeatureRow,
    as_of_micros,
    decode_values,
    encode_values,
    from_micros,
    newest_per_entity,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS online_features (
    view TEXT NOT NULL,
    entity TEXT NOT NULL,
    as_of INTEGER NOT NULL,
    feature_values TEXT NOT NULL,
    PRIMARY KEY (view, entity)
) WITHOUT ROWID
"""

UPSERT = """
INSERT INTO online_features (view, entity, as_of, feature_values) VALUES (?, ?, ?, ?)
ON CONFLICT (view, entity) DO UPDATE
SET as_of = excluded.as_of, feature_values = excluded.feature_values
WHERE excluded.as_of >= online_features.as_of
"""

READ_SQL = (
    "SELECT entity, as_of, feature_values FROM online_features"
    " WHERE view = ? AND entity IN ({marks})"
)
"""``marks`` is only ``?`` placeholders: every value is a bound parameter."""

READ_CHUNK = 500
"""Entities per ``IN (...)`` query (SQLite's host-parameter limit is far above)."""


def path_from_sqlite_uri(uri: str) -> Path:
    """The file of ``sqlite:///abs/path.db`` (three slashes: an absolute path)."""
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite" or parsed.netloc or not parsed.path:
        raise ValueError(f"expected sqlite:///absolute/path.db, got {uri!r}")
    return Path(unquote(parsed.path))


class SqliteOnlineStore:
    """Rows in one SQLite table keyed by (view, entity)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection shared by threads (AsyncOnlineStore), serialised by a lock.
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(SCHEMA)

    @classmethod
    def from_uri(cls, uri: str) -> SqliteOnlineStore:
        """The store of ``sqlite:///abs/path.db``."""
        return cls(path_from_sqlite_uri(uri))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"online store {self.path} is closed")
        return self._conn

    def write(self, view: str, rows: Sequence[FeatureRow]) -> None:
        """Upsert ``rows`` in one transaction; older rows than the stored ones are ignored."""
        params = [
            (view, entity, as_of_micros(row.as_of), encode_values(row.values))
            for entity, row in newest_per_entity(rows).items()
        ]
        if not params:
            return
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(UPSERT, params)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def read(self, view: str, entities: Sequence[str]) -> dict[str, FeatureRow]:
        """The stored rows of ``entities`` (absent if never written)."""
        wanted = list(dict.fromkeys(entities))
        found: dict[str, FeatureRow] = {}
        with self._lock:
            conn = self._connection()
            for start in range(0, len(wanted), READ_CHUNK):
                chunk = wanted[start : start + READ_CHUNK]
                marks = ",".join("?" * len(chunk))
                query = READ_SQL.format(marks=marks)
                for entity, as_of, values in conn.execute(query, [view, *chunk]):
                    found[entity] = FeatureRow(entity, from_micros(as_of), decode_values(values))
        return found

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
