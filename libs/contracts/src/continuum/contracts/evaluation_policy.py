"""How a run is evaluated beyond its overall score: per slice of the holdout.

The ``evaluation:`` section of :class:`~continuum.contracts.pipeline_spec.PipelineSpec`
(each section with its own concern has its own module: ``record_schema``, ``loop_policies``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EvaluationPolicy(BaseModel):
    """Slices of the holdout the trainer and the registry score candidate and champion on.

    A slice is one value of a categorical feature, or one of ``slice_bins`` quantile bins
    of a numeric feature (quantiles of the holdout), with at least ``slice_min_rows``
    rows: smaller slices give metrics too noisy to act on. A slice is flagged when the
    candidate is worse there by more than ``slice_flag_threshold`` (in the promotion
    metric's units) than the champion on the same rows, or than its own overall score.
    Whether a slice regression refuses promotion is ``promotion.max_slice_regression``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    slice_min_rows: int = Field(default=100, ge=10, description="Smaller slices are not scored.")
    slice_bins: int = Field(default=4, ge=2, le=20, description="Quantile bins per numeric.")
    slice_flag_threshold: float = Field(
        default=0.05, gt=0, description="Worse by more than this (metric units): flagged."
    )
