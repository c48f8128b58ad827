"""The trainer's ``/health`` body: runs in progress and each pipeline's last outcome."""

from __future__ import annotations

from collections.abc import Mapping

from continuum.trainer.runs import FinishedRun
from continuum.trainer.state import TrainerState


def _finished(run: FinishedRun | None) -> dict[str, str] | None:
    if run is None:
        return None
    return {"run_id": run.run_id, "outcome": run.outcome, "at": run.finished_at.isoformat()}


def report(state: TrainerState, running: Mapping[str, str]) -> dict[str, object]:
    """``ok``; ``running`` (pipeline -> run id); per pipeline its last failure (reason,
    failed runs in a row), when its retry is due (``null``: none planned) and its last
    finished run (``outcome``: succeeded, failed or skipped)."""
    failures = {f.pipeline: f for f in state.failures.all()}
    pipelines: dict[str, dict[str, object]] = {}
    for pipeline in state.pipelines():
        failure = failures.get(pipeline)
        retry_at = failure.next_retry_at if failure else None
        pipelines[pipeline] = {
            "last_run_failed": failure is not None,
            "last_failure_reason": failure.reason if failure else None,
            "last_failed_run": failure.run_id if failure else None,
            "failed_runs_in_a_row": failure.failed_runs if failure else 0,
            "next_retry_at": retry_at.isoformat() if retry_at else None,
            "last_run": _finished(state.last_finished(pipeline)),
        }
    return {"status": "ok", "service": "trainer", "running": dict(running), "pipelines": pipelines}
