"""The retraining policies' durable memory, in the trainer's SQLite file.

Shares :class:`~continuum.trainer.state.TrainerState`'s connection (``state.policy``), so
every change commits in the transaction of the handler that made it, together with the
processed event id:

- ``policy_states``: the cost-aware :class:`PolicyState` of each pipeline (JSON);
- ``policy_triggers``: why the cost-aware policy asked for a run (its decision's reason,
  and whether that was the growth rule), by the trigger's event id;
- ``run_results``: each successful run's ``ModelTrained`` (candidate and champion scores on
  the same holdout, rows), read back when the registry's gate decision arrives;
- ``pending_triggers``: a run waiting for its window's labels to reach the store (a
  rules-policy drift, or a cost-aware ``quality`` decision).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from continuum.contracts import ModelTrained, utc_now
from continuum.modelkit.policy_state import PolicyState
from continuum.trainer.jobs import TriggerRef

_SCHEMA = """
CREATE TABLE IF NOT EXISTS policy_states (
    pipeline TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policy_triggers (
    event_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, reason TEXT NOT NULL,
    growth INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS run_results (
    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, trained TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_triggers (
    pipeline TEXT PRIMARY KEY, event_id TEXT NOT NULL, correlation_id TEXT NOT NULL,
    window_end TEXT NOT NULL, received_at TEXT NOT NULL, kind TEXT NOT NULL);
"""

# Before quality runs waited too, only drifts did (a state file from then still has them).
_MIGRATE_PENDING_DRIFTS = """
INSERT OR IGNORE INTO pending_triggers
    SELECT pipeline, event_id, correlation_id, window_end, received_at, 'drift'
    FROM pending_drifts;
DROP TABLE pending_drifts;
"""


@dataclass(frozen=True)
class PendingTrigger:
    """A run's trigger (a drift, or a quality decision) waiting for labels covering
    ``window_end`` to reach the offline store."""

    pipeline: str
    trigger: TriggerRef
    window_end: datetime
    received_at: datetime


class PolicyStore:
    """Reads and writes the tables above; call it inside ``TrainerState.transaction()``."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.db.executescript(_SCHEMA)
        old = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='pending_drifts'"
        if self.db.execute(old).fetchone():
            self.db.executescript(_MIGRATE_PENDING_DRIFTS)

    # -- cost-aware state ---------------------------------------------------------------
    def get(self, pipeline: str) -> PolicyState | None:
        row = self.db.execute(
            "SELECT state FROM policy_states WHERE pipeline=?", (pipeline,)
        ).fetchone()
        return PolicyState.model_validate_json(row[0]) if row else None

    def put(self, pipeline: str, state: PolicyState) -> None:
        self.db.execute(
            "INSERT INTO policy_states VALUES (?,?,?) ON CONFLICT (pipeline) DO UPDATE"
            " SET state=excluded.state, updated_at=excluded.updated_at",
            (pipeline, state.model_dump_json(), utc_now().isoformat()),
        )

    def note_trigger(self, pipeline: str, event_id: str, reason: str, *, growth: bool) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO policy_triggers VALUES (?,?,?,?)",
            (event_id, pipeline, reason, int(growth)),
        )

    def growth(self, triggers: list[TriggerRef]) -> bool:
        """Whether the policy's growth rule asked for a run with these triggers."""
        for trigger in triggers:
            row = self.db.execute(
                "SELECT growth FROM policy_triggers WHERE event_id=?", (trigger.event_id,)
            ).fetchone()
            if row and row[0]:
                return True
        return False

    # -- run results ----------------------------------------------------------------------
    def note_result(self, event: ModelTrained) -> None:
        """A successful run's outcome, for when its registration arrives."""
        self.db.execute(
            "INSERT OR REPLACE INTO run_results VALUES (?,?,?)",
            (event.run_id, event.pipeline, event.model_dump_json()),
        )

    def result(self, run_id: str) -> ModelTrained | None:
        row = self.db.execute(
            "SELECT trained FROM run_results WHERE run_id=?", (run_id,)
        ).fetchone()
        return ModelTrained.model_validate_json(row[0]) if row else None

    # -- triggers waiting for labels ----------------------------------------------------
    def set_pending(self, pipeline: str, trigger: TriggerRef, window_end: datetime) -> bool:
        """Remember a trigger waiting for labels; False if one already waits (it stays)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO pending_triggers VALUES (?,?,?,?,?,?)",
            (
                pipeline,
                trigger.event_id,
                trigger.correlation_id,
                window_end.isoformat(),
                utc_now().isoformat(),
                trigger.kind,
            ),
        )
        return cursor.rowcount > 0

    def pending(self, pipeline: str) -> PendingTrigger | None:
        """The trigger waiting for labels on ``pipeline``, if any."""
        row = self.db.execute(
            "SELECT event_id, correlation_id, window_end, received_at, kind"
            " FROM pending_triggers WHERE pipeline=?",
            (pipeline,),
        ).fetchone()
        if not row:
            return None
        return PendingTrigger(
            pipeline=pipeline,
            trigger=TriggerRef(row[0], row[4], row[1]),
            window_end=datetime.fromisoformat(row[2]),
            received_at=datetime.fromisoformat(row[3]),
        )

    def clear_pending(self, pipeline: str) -> None:
        self.db.execute("DELETE FROM pending_triggers WHERE pipeline=?", (pipeline,))
