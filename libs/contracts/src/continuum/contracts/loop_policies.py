"""When a pipeline retrains, how it is watched, how its records are batched: the
``triggers:``, ``monitoring:`` and ``ingest:`` sections of a
:class:`~continuum.contracts.pipeline_spec.PipelineSpec`.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from continuum.contracts.record_schema import SpecModel

RetrainPolicy = Literal["cost_aware", "rules"]


class RetrainTriggers(SpecModel):
    """When the trainer starts a run by itself (a manual request always works).

    ``policy: cost_aware`` (the default) retrains when the champion's live metric, on
    windows of labelled predictions, shows that a retrain is worth ``retrain_cost``; input
    drift only makes it listen harder. ``policy: rules`` is the older rule set: every
    ``min_new_labelled_rows`` new labelled rows and on every drift event (once the drifted
    window's labels arrived, or after ``label_wait_seconds``). Both honour ``cold_start``
    and ``schedule_seconds``, and both wait up to ``label_wait_seconds`` for the labelled
    rows of the window that decided a run to be stored before training on them.
    """

    policy: RetrainPolicy = "cost_aware"
    retrain_cost: float = Field(
        default=0.1,
        gt=0,
        description=(
            "cost_aware: what one training run is worth in the promotion metric's units,"
            " summed over monitoring windows (0.1 = one window 0.1 worse, or ten windows"
            " 0.01 worse)."
        ),
    )
    min_new_labelled_rows: int | None = Field(default=1000, ge=1)
    cold_start: bool = Field(
        default=True,
        description="Train the first model as soon as training.min_rows labelled rows exist.",
    )
    on_drift: bool = True
    label_wait_seconds: float = Field(
        default=600,
        ge=0,
        description=(
            "How long a run decided on a window (a drift, or a quality decision) waits for "
            "that window's labelled rows to be stored."
        ),
    )
    schedule_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _fields_fit_policy(self) -> Self:
        # A field of the other policy set to a non-default value is a misunderstanding worth
        # refusing; defaults pass, so a dumped spec validates again.
        fields = type(self).model_fields
        if self.policy == "cost_aware":
            names: tuple[str, ...] = ("min_new_labelled_rows", "on_drift")
            why = "only apply to policy: rules (cost_aware decides from the live metric)"
        else:
            names = ("retrain_cost",)
            why = "only applies to policy: cost_aware"
        misplaced = [n for n in names if getattr(self, n) != fields[n].default]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} {why}")
        return self


NumericDriftMethod = Literal[
    "wasserstein", "ks", "psi", "jensenshannon", "kl_div", "hellinger", "anderson", "energy_dist"
]
CategoricalDriftMethod = Literal["chisquare", "z", "psi", "jensenshannon", "kl_div", "hellinger"]


class MonitoringPolicy(SpecModel):
    """How the monitor watches the champion.

    Methods and the per-column threshold are Evidently's; left out, Evidently chooses by
    reference size (Wasserstein / Jensen-Shannon at 0.1 above 1000 rows, else K-S /
    chi-square p-values at 0.05). A distance threshold above 0.1 makes drift less eager on
    naturally noisy columns.
    """

    window_rows: int = Field(default=1000, ge=50)
    drift_share_threshold: float = Field(
        default=0.3, gt=0, le=1, description="Share of drifted features that counts as drift."
    )
    numeric_drift_method: NumericDriftMethod | None = None
    categorical_drift_method: CategoricalDriftMethod | None = None
    column_drift_threshold: float | None = Field(
        default=None, gt=0, description="Per-column threshold for the chosen methods."
    )
    cooldown_seconds: float = Field(default=300, ge=0)


class IngestPolicy(SpecModel):
    """How ingest groups valid rows into batches."""

    flush_rows: int = Field(default=1000, ge=1)
    flush_seconds: float = Field(default=5.0, gt=0)
