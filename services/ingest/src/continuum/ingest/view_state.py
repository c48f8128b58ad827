"""Feature-view state on disk: ``<state_dir>/feature_views.db`` and its keys.

Two tables: ``view_state`` (each entity's state per view) and ``view_folded`` (per view and
lane, the last source offset folded: its watermark). Both are keyed by :func:`state_name`,
which hashes the view's definition, so a new or edited view has neither and is rebuilt
from the stored batches (:mod:`view_rebuild`) while an unchanged one keeps its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path

from continuum.contracts import FeatureView
from continuum.featurestore import view_key

logger = logging.getLogger(__name__)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS view_state (view TEXT NOT NULL, entity TEXT NOT NULL,"
    " state TEXT NOT NULL, PRIMARY KEY (view, entity)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS view_folded (view TEXT NOT NULL, topic TEXT NOT NULL,"
    " partition INTEGER NOT NULL, last_offset INTEGER NOT NULL,"
    " PRIMARY KEY (view, topic, partition)) WITHOUT ROWID",
)


def state_name(pipeline: str, view: FeatureView) -> str:
    """The state's key of a view: its definition's hash too, so an edited view starts anew."""
    definition = json.dumps(view.model_dump(mode="json"), sort_keys=True).encode()
    return f"{view_key(pipeline, view.name)}@{hashlib.sha256(definition).hexdigest()[:16]}"


def open_state_db(path: Path) -> sqlite3.Connection:
    """The state database at ``path`` (autocommit: callers open their own transactions)."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for statement in SCHEMA:
        db.execute(statement)
    _migrate_lane_watermarks(db)
    return db


def _migrate_lane_watermarks(db: sqlite3.Connection) -> None:
    """Turn the old per-lane watermarks (table ``folded``, one for all of a pipeline's
    views) into per-view ones, once.

    Each view that has state gets its pipeline's lane watermarks: its state holds those
    batches. A view without any state gets none and is rebuilt from the stored batches
    (folding into empty state cannot count anything twice).
    """
    legacy = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'folded'"
    ).fetchone()
    if legacy is None:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        names = [row[0] for row in db.execute("SELECT DISTINCT view FROM view_state")]
        lanes = db.execute("SELECT pipeline, topic, partition, last_offset FROM folded")
        rows = [
            (name, topic, partition, last)
            for pipeline, topic, partition, last in lanes.fetchall()
            for name in names
            if name.rsplit("@", 1)[0].rsplit("/", 1)[0] == pipeline
        ]
        db.executemany(
            "INSERT OR IGNORE INTO view_folded (view, topic, partition, last_offset)"
            " VALUES (?, ?, ?, ?)",
            rows,
        )
        db.execute("DROP TABLE folded")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    logger.info("feature views: %d per-lane watermarks now kept per view", len(rows))
