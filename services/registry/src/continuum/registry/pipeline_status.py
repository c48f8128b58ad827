"""A pipeline's status in one line: does it have a model to serve, and if not, why."""

from __future__ import annotations

from continuum.registry_client import TrainingRunRecord


def summarize(champion_version: int | None, last_run: TrainingRunRecord | None) -> str:
    """E.g. ``serving v3``, ``no model: last run failed because ValueError: ...``.

    Serving answers 503 for a pipeline without a champion; this says what to fix.
    """
    failed = last_run is not None and last_run.status == "failed"
    because = f"last run failed because {_reason(last_run)}" if failed else ""
    if champion_version is not None:
        return f"serving v{champion_version}" + (f"; {because}" if because else "")
    if last_run is None:
        return "no model yet: no training run has finished"
    if because:
        return f"no model: {because}"
    return (
        f"no model: the last run's candidate (v{last_run.version}) was not promoted"
        f" ({last_run.decision_reason or 'no reason recorded'})"
    )


def _reason(run: TrainingRunRecord | None) -> str:
    return (run.failure_reason if run else None) or "no reason recorded"
