"""The trainer's runs table: a run's life from queued to done, and what finished runs say.

A run is ``queued`` while it still accepts triggers, ``running`` once its job (spec,
batches, champion) is frozen and persisted, and ``done`` after its ``ModelTrained`` was
published (or, outcome ``skipped``, when it would have trained on the data of the last
successful run). :class:`RunBook` is mixed into
:class:`~continuum.trainer.state.TrainerState`, so runs change on the same connection and
in the same transactions as the pipelines and batches they belong to.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from continuum.contracts import utc_now
from continuum.trainer.jobs import TrainingJob, TriggerRef
from continuum.trainer.records import Run, run_id_for

logger = logging.getLogger("continuum.trainer")

RUNS_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, status TEXT NOT NULL,
    triggers TEXT NOT NULL, job TEXT, outcome TEXT,
    created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, status);
"""


@dataclass(frozen=True)
class FinishedRun:
    """A pipeline's latest finished run and how it ended (succeeded, failed, skipped)."""

    run_id: str
    outcome: str
    finished_at: datetime


class RunBook:
    """The runs of every pipeline; the state's pipelines table is the subclass's."""

    db: sqlite3.Connection

    def ensure_pipeline(self, pipeline: str) -> None:
        """Start tracking ``pipeline`` (implemented by the state that owns the pipelines)."""
        raise NotImplementedError

    def add_trigger(self, pipeline: str, trigger: TriggerRef) -> Run:
        """Open a queued run for ``trigger``, or fold it into the queued one (coalescing)."""
        self.ensure_pipeline(pipeline)
        queued = self._run_with_status(pipeline, "queued")
        if queued is None:
            run_id = run_id_for(pipeline, trigger.event_id)
            self.db.execute(
                "INSERT OR IGNORE INTO runs (run_id, pipeline, status, triggers, created_at)"
                " VALUES (?,?,?,?,?)",
                (run_id, pipeline, "queued", json.dumps([trigger.as_json()]), _now()),
            )
        else:
            if all(t.event_id != trigger.event_id for t in queued.triggers):
                triggers = [t.as_json() for t in queued.triggers] + [trigger.as_json()]
                self.db.execute(
                    "UPDATE runs SET triggers=? WHERE run_id=?",
                    (json.dumps(triggers), queued.run_id),
                )
            run_id = queued.run_id
        run = self.run(run_id)
        assert run is not None
        return run

    def start_run(self, run_id: str, job: TrainingJob) -> None:
        """Freeze the run's job and mark it running; its rows no longer count as new."""
        run = self.run(run_id)
        assert run is not None and run.status == "queued", run
        now = _now()
        self.db.execute(
            "UPDATE runs SET status='running', job=?, started_at=? WHERE run_id=?",
            (job.to_json(), now, run_id),
        )
        # The rows the run trains on stop counting towards the next new-data trigger, and
        # the schedule counts from here.
        self.db.execute(
            "UPDATE pipelines SET new_labelled_rows=0, last_run_started_at=? WHERE pipeline=?",
            (now, run.pipeline),
        )

    def finish_run(self, run_id: str, outcome: str) -> None:
        """The run's ``ModelTrained`` is published (or the run was skipped)."""
        self.db.execute(
            "UPDATE runs SET status='done', outcome=?, finished_at=? WHERE run_id=?",
            (outcome, _now(), run_id),
        )

    def run(self, run_id: str) -> Run | None:
        """The run with this id, if any."""
        row = self.db.execute(
            "SELECT run_id, pipeline, status, triggers, job, created_at FROM runs WHERE run_id=?",
            (run_id,),
        ).fetchone()
        return _run(row) if row else None

    def _run_with_status(self, pipeline: str, status: str) -> Run | None:
        row = self.db.execute(
            "SELECT run_id, pipeline, status, triggers, job, created_at FROM runs"
            " WHERE pipeline=? AND status=? ORDER BY created_at LIMIT 1",
            (pipeline, status),
        ).fetchone()
        return _run(row) if row else None

    def running_run(self, pipeline: str) -> Run | None:
        """The run whose job is frozen (resumed after a restart)."""
        return self._run_with_status(pipeline, "running")

    def queued_run(self, pipeline: str) -> Run | None:
        """The run collecting triggers, not started yet."""
        return self._run_with_status(pipeline, "queued")

    def runs(self, pipeline: str) -> list[Run]:
        """Every run of ``pipeline``, oldest first."""
        rows = self.db.execute(
            "SELECT run_id, pipeline, status, triggers, job, created_at FROM runs"
            " WHERE pipeline=? ORDER BY created_at",
            (pipeline,),
        )
        return [_run(r) for r in rows]

    def pipelines_with_open_runs(self) -> list[str]:
        """Pipelines with a queued or running run."""
        rows = self.db.execute(
            "SELECT DISTINCT pipeline FROM runs WHERE status IN ('queued','running')"
        )
        return sorted(r[0] for r in rows)

    def last_success(self, pipeline: str) -> tuple[str, TrainingJob] | None:
        """The last successful run and its job (``None`` too if that job is unreadable)."""
        row = self.db.execute(
            "SELECT run_id, job FROM runs WHERE pipeline=? AND outcome='succeeded'"
            " AND job IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
            (pipeline,),
        ).fetchone()
        if not row:
            return None
        job = _job(row[0], row[1])
        return (row[0], job) if job is not None else None

    def last_finished(self, pipeline: str) -> FinishedRun | None:
        """The pipeline's newest finished run, whatever its outcome."""
        row = self.db.execute(
            "SELECT run_id, outcome, finished_at FROM runs WHERE pipeline=? AND status='done'"
            " AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
            (pipeline,),
        ).fetchone()
        if not row:
            return None
        return FinishedRun(row[0], row[1] or "", datetime.fromisoformat(row[2]))


def _now() -> str:
    return utc_now().isoformat()


def _job(run_id: str, text: str | None) -> TrainingJob | None:
    if not text:
        return None
    try:
        return TrainingJob.from_json(text)
    except ValidationError as exc:  # the runner fails such a run instead of crashing on it
        logger.error("run %s: stored job unreadable: %s", run_id, exc)
        return None


def _run(row: tuple[Any, ...]) -> Run:
    run_id, pipeline, status, triggers, job, created_at = row
    return Run(
        run_id=run_id,
        pipeline=pipeline,
        status=status,
        triggers=[TriggerRef(**t) for t in json.loads(triggers)],
        job=_job(run_id, job),
        created_at=datetime.fromisoformat(created_at),
    )
