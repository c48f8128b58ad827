"""A finished run as the ``ModelTrained`` event the registry and the policy read.

The event id is derived from the run id, so a run finished twice (a crash between the
publish and the state's commit) publishes the same event, which consumers deduplicate.
The first trigger of the run names it (kind and correlation id).
"""

from __future__ import annotations

import uuid
from typing import Any

from continuum.contracts import ModelTrained
from continuum.trainer.jobs import TrainingJob, TrainingResult
from continuum.trainer.records import RUN_NAMESPACE, Run


def _base(run: Run, spec_version: int) -> dict[str, Any]:
    first = run.triggers[0]
    return {
        "event_id": uuid.uuid5(RUN_NAMESPACE, f"{run.run_id}|trained"),
        "pipeline": run.pipeline,
        "correlation_id": uuid.UUID(first.correlation_id),
        "run_id": run.run_id,
        "trigger": first.kind,
        "spec_version": spec_version,
    }


def failed(run: Run, reason: str, spec_version: int) -> ModelTrained:
    """The run failed because of ``reason``."""
    return ModelTrained(**_base(run, spec_version), status="failed", failure_reason=reason)


def succeeded(run: Run, job: TrainingJob, result: TrainingResult) -> ModelTrained:
    """The run trained: its artifacts, and its model card's scores and sizes (with the
    holdout's class counts for binary classification; a card from before they were
    recorded has none)."""
    card = result.card
    return ModelTrained(
        **_base(run, job.spec_version),
        status="succeeded",
        data_version=card.data_version,
        artifacts=result.artifacts,
        metric=card.metric,
        metrics=card.metrics,
        champion_version=card.champion_version,
        champion_metrics=card.champion_metrics,
        params=card.params,
        training_seconds=card.durations_seconds.get("fit_seconds"),
        rows_train=card.rows_train,
        rows_holdout=card.rows_holdout,
        holdout_positives=card.holdout_positives,
        holdout_negatives=card.holdout_negatives,
    )
