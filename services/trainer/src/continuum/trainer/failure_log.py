"""The ``failures`` table: per pipeline, its last failed run and when to retry it.

A row exists while a pipeline's last run failed and is deleted by its next success.
It lives in the trainer's SQLite file (on the state's connection, so it changes in the
same transactions as the runs), which keeps a retry schedule across restarts.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from continuum.trainer.records import Failure

_SCHEMA = """
CREATE TABLE IF NOT EXISTS failures (
    pipeline TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    failed_at TEXT NOT NULL,
    failed_runs INTEGER NOT NULL,
    next_retry_at TEXT);
"""

_COLUMNS = "pipeline, run_id, reason, failed_at, failed_runs, next_retry_at"


class FailureLog:
    """Reads and writes ``failures``; call it inside ``TrainerState.transaction()``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(_SCHEMA)

    def get(self, pipeline: str) -> Failure | None:
        """The pipeline's failure, ``None`` if its last run did not fail."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM failures WHERE pipeline=?",  # noqa: S608 (constant)
            (pipeline,),
        ).fetchone()
        return _failure(row) if row else None

    def all(self) -> list[Failure]:
        """Every pipeline whose last run failed."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM failures ORDER BY pipeline"  # noqa: S608 (constant)
        )
        return [_failure(r) for r in rows]

    def due(self, now: datetime) -> list[Failure]:
        """Failures whose retry is scheduled at or before ``now``."""
        return [f for f in self.all() if f.next_retry_at is not None and f.next_retry_at <= now]

    def record(
        self,
        pipeline: str,
        run_id: str,
        reason: str,
        *,
        at: datetime,
        failed_runs: int,
        next_retry_at: datetime | None,
    ) -> None:
        """Remember the pipeline's newest failed run (replacing the previous one)."""
        self.db.execute(
            "INSERT INTO failures VALUES (?,?,?,?,?,?) ON CONFLICT (pipeline) DO UPDATE SET"
            " run_id=excluded.run_id, reason=excluded.reason, failed_at=excluded.failed_at,"
            " failed_runs=excluded.failed_runs, next_retry_at=excluded.next_retry_at",
            (pipeline, run_id, reason, at.isoformat(), failed_runs, _iso(next_retry_at)),
        )

    def schedule(
        self, pipeline: str, at: datetime | None, *, failed_runs: int | None = None
    ) -> None:
        """Set (or clear) the next retry; optionally restart the count of failed runs."""
        self.db.execute(
            "UPDATE failures SET next_retry_at=?, failed_runs=COALESCE(?, failed_runs)"
            " WHERE pipeline=?",
            (_iso(at), failed_runs, pipeline),
        )

    def clear(self, pipeline: str) -> None:
        """The pipeline's last run succeeded."""
        self.db.execute("DELETE FROM failures WHERE pipeline=?", (pipeline,))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _failure(row: tuple[Any, ...]) -> Failure:
    pipeline, run_id, reason, failed_at, failed_runs, next_retry_at = row
    return Failure(
        pipeline=pipeline,
        run_id=run_id,
        reason=reason,
        failed_at=datetime.fromisoformat(failed_at),
        failed_runs=int(failed_runs),
        next_retry_at=datetime.fromisoformat(next_retry_at) if next_retry_at else None,
    )
