"""The trainer's durable state: one SQLite file in ``CONTINUUM_STATE_DIR``.

Per pipeline: the batches it knows (in arrival order), labelled rows since the last run,
and its runs (the runs table and its queries are :class:`~continuum.trainer.runs.RunBook`'s;
failures and the policies' memory have their own tables on the same connection).
Processed event ids make every handler idempotent.
Every change is one transaction, committed (synchronous=FULL) before a handler returns,
so a Kafka offset is only committed once its effect is on disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from continuum.contracts import utc_now
from continuum.trainer.failure_log import FailureLog
from continuum.trainer.jobs import TriggerRef
from continuum.trainer.policy_store import PolicyStore
from continuum.trainer.records import BatchRef
from continuum.trainer.runs import RUNS_SCHEMA, RunBook

_SCHEMA = """
CREATE TABLE IF NOT EXISTS processed_events (
    event_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pipelines (
    pipeline TEXT PRIMARY KEY,
    new_labelled_rows INTEGER NOT NULL DEFAULT 0,
    last_batch_event_id TEXT,
    last_batch_correlation_id TEXT,
    retired INTEGER NOT NULL DEFAULT 0,
    first_seen_at TEXT NOT NULL,
    last_run_started_at TEXT);
CREATE TABLE IF NOT EXISTS batches (
    pipeline TEXT NOT NULL, seq INTEGER NOT NULL, batch_id TEXT NOT NULL,
    uri TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL,
    rows INTEGER NOT NULL, labelled_rows INTEGER NOT NULL,
    min_event_time TEXT, max_event_time TEXT,
    PRIMARY KEY (pipeline, batch_id));
"""


class TrainerState(RunBook):
    """SQLite-backed state; open it with :meth:`open`, use methods inside :meth:`transaction`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA + RUNS_SCHEMA)
        # Same connection: failure bookkeeping commits in the same transactions as the runs.
        self.failures = FailureLog(self.db)
        self.policy = PolicyStore(self.db)

    @classmethod
    def open(cls, state_dir: Path) -> TrainerState:
        """The state in ``state_dir/trainer.sqlite3`` (created if missing)."""
        return cls(state_dir / "trainer.sqlite3")

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[TrainerState]:
        """One atomic, durable change (rolled back if the block raises)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- events -----------------------------------------------------------------------
    def seen(self, event_id: str) -> bool:
        """Whether this event was already handled."""
        row = self.db.execute("SELECT 1 FROM processed_events WHERE event_id=?", (event_id,))
        return row.fetchone() is not None

    def mark_processed(self, event_id: str, pipeline: str, kind: str) -> None:
        """Remember the event so a redelivery is ignored."""
        self.db.execute(
            "INSERT OR IGNORE INTO processed_events VALUES (?,?,?,?)",
            (event_id, pipeline, kind, utc_now().isoformat()),
        )

    # -- pipelines and batches --------------------------------------------------------
    def ensure_pipeline(self, pipeline: str) -> None:
        """Start tracking ``pipeline``."""
        self.db.execute(
            "INSERT OR IGNORE INTO pipelines (pipeline, first_seen_at) VALUES (?,?)",
            (pipeline, utc_now().isoformat()),
        )

    def pipelines(self) -> list[str]:
        """Every pipeline seen, retired ones excluded."""
        rows = self.db.execute("SELECT pipeline FROM pipelines WHERE retired=0 ORDER BY pipeline")
        return [r[0] for r in rows]

    def set_retired(self, pipeline: str, retired: bool) -> None:
        """Retired pipelines get no automatic runs."""
        self.ensure_pipeline(pipeline)
        self.db.execute("UPDATE pipelines SET retired=? WHERE pipeline=?", (int(retired), pipeline))

    def is_retired(self, pipeline: str) -> bool:
        row = self.db.execute("SELECT retired FROM pipelines WHERE pipeline=?", (pipeline,))
        found = row.fetchone()
        return bool(found and found[0])

    def add_batch(self, pipeline: str, batch: BatchRef, trigger: TriggerRef) -> bool:
        """Record a batch (once) and count its labelled rows; False if already known."""
        self.ensure_pipeline(pipeline)
        (seq,) = self.db.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM batches WHERE pipeline=?", (pipeline,)
        ).fetchone()
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO batches VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                pipeline,
                seq,
                batch.batch_id,
                batch.uri,
                batch.sha256,
                batch.size_bytes,
                batch.rows,
                batch.labelled_rows,
                batch.min_event_time,
                batch.max_event_time,
            ),
        )
        if cursor.rowcount == 0:
            return False
        self.db.execute(
            "UPDATE pipelines SET new_labelled_rows = new_labelled_rows + ?,"
            " last_batch_event_id=?, last_batch_correlation_id=? WHERE pipeline=?",
            (batch.labelled_rows, trigger.event_id, trigger.correlation_id, pipeline),
        )
        return True

    def batches(self, pipeline: str) -> list[BatchRef]:
        """Known batches in arrival order."""
        rows = self.db.execute(
            "SELECT batch_id, uri, sha256, size_bytes, rows, labelled_rows, min_event_time,"
            " max_event_time FROM batches WHERE pipeline=? ORDER BY seq",
            (pipeline,),
        )
        return [BatchRef(*r) for r in rows]

    def total_labelled_rows(self, pipeline: str) -> int:
        (total,) = self.db.execute(
            "SELECT COALESCE(SUM(labelled_rows), 0) FROM batches WHERE pipeline=?", (pipeline,)
        ).fetchone()
        return int(total)

    def new_labelled_rows(self, pipeline: str) -> int:
        """Labelled rows that arrived since the last run started."""
        row = self.db.execute(
            "SELECT new_labelled_rows FROM pipelines WHERE pipeline=?", (pipeline,)
        ).fetchone()
        return int(row[0]) if row else 0

    def last_batch_trigger(self, pipeline: str) -> TriggerRef | None:
        """The newest batch event, as a ``new_data`` trigger (the cold start relabels it)."""
        row = self.db.execute(
            "SELECT last_batch_event_id, last_batch_correlation_id FROM pipelines WHERE pipeline=?",
            (pipeline,),
        ).fetchone()
        if not row or row[0] is None:
            return None
        return TriggerRef(event_id=row[0], kind="new_data", correlation_id=row[1])

    def schedule_anchor(self, pipeline: str) -> datetime | None:
        """When the last run started (or the pipeline was first seen)."""
        row = self.db.execute(
            "SELECT COALESCE(last_run_started_at, first_seen_at) FROM pipelines WHERE pipeline=?",
            (pipeline,),
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None
