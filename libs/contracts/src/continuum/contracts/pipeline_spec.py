"""A pipeline as code: the YAML spec users apply to the registry.

A spec says where records come from and what they look like, what to train and how,
when to retrain, when a candidate may replace the champion, and how to watch it.
Validation is strict (unknown keys are refused) so a typo fails at ``apply`` time
with the path to the bad field, not at three in the morning inside a service.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal, Self

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from continuum.contracts.deployment_policy import DeploymentPolicy
from continuum.contracts.envelope import PipelineName
from continuum.contracts.evaluation_policy import EvaluationPolicy
from continuum.contracts.feature_views import (
    ColumnKind,
    FeatureView,
    model_input_columns,
    view_feature_kinds,
    view_problems,
)
from continuum.contracts.loop_policies import IngestPolicy, MonitoringPolicy, RetrainTriggers
from continuum.contracts.record_schema import RecordSchema, SpecModel, Target

Task = Literal["binary_classification", "regression"]

ESTIMATORS: dict[str, tuple[str, Task]] = {
    "LogisticRegression": ("sklearn.linear_model.LogisticRegression", "binary_classification"),
    "RandomForestClassifier": (
        "sklearn.ensemble.RandomForestClassifier",
        "binary_classification",
    ),
    "HistGradientBoostingClassifier": (
        "sklearn.ensemble.HistGradientBoostingClassifier",
        "binary_classification",
    ),
    "Ridge": ("sklearn.linear_model.Ridge", "regression"),
    "RandomForestRegressor": ("sklearn.ensemble.RandomForestRegressor", "regression"),
    "HistGradientBoostingRegressor": (
        "sklearn.ensemble.HistGradientBoostingRegressor",
        "regression",
    ),
}
"""Estimators a spec may name: short name -> (import path, the task it solves)."""

HIGHER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "accuracy": True,
    "f1": True,
    "log_loss": False,
    "r2": True,
    "rmse": False,
    "mae": False,
}
"""Every metric the trainer computes, and which way is better."""

METRICS_BY_TASK: dict[Task, tuple[str, ...]] = {
    "binary_classification": ("roc_auc", "accuracy", "f1", "log_loss"),
    "regression": ("r2", "rmse", "mae"),
}


def _target_fits_task(task: Task, target: Target) -> None:
    """Refuse domain fields the task cannot use, at their path (``schema.target.<field>``).

    Raised as a ``ValidationError`` from the spec's validator so pydantic keeps the nested
    location: an ``apply`` error then names the field, not just the whole spec.
    """
    wrong: list[tuple[str, Any]]
    if task == "regression":
        wrong = [("classes", target.classes)] if target.classes is not None else []
        why = "classes are for binary_classification; a regression target may set min/max"
    else:
        wrong = [(n, v) for n, v in (("min", target.min), ("max", target.max)) if v is not None]
        why = "min/max are for regression; a binary_classification target may set classes"
    if wrong:
        raise ValidationError.from_exception_data(
            "PipelineSpec",
            [
                InitErrorDetails(
                    type=PydanticCustomError("target_domain", why),
                    loc=("schema", "target", name),
                    input=value,
                )
                for name, value in wrong
            ],
        )


class Distribution(SpecModel):
    """A search dimension drawn from a distribution."""

    distribution: Literal["uniform", "loguniform", "randint"]
    low: float
    high: float

    @model_validator(mode="after")
    def _low_below_high(self) -> Self:
        if self.low >= self.high:
            raise ValueError("low must be below high")
        if self.distribution == "loguniform" and self.low <= 0:
            raise ValueError("loguniform needs low > 0")
        return self


SearchDimension = list[Any] | Distribution


class SearchSpace(SpecModel):
    """Hyperparameter search with ``HalvingRandomSearchCV``."""

    params: dict[str, SearchDimension] = Field(min_length=1)
    n_candidates: int = Field(default=8, ge=2, le=256)
    cv: int = Field(default=3, ge=2, le=10)


class ModelSpec(SpecModel):
    """The estimator (from the allowlist) and its parameters."""

    estimator: str
    params: dict[str, Any] = Field(default_factory=dict)
    search: SearchSpace | None = None

    @model_validator(mode="after")
    def _estimator_is_allowed(self) -> Self:
        if self.estimator not in ESTIMATORS:
            raise ValueError(
                f"estimator {self.estimator!r} is not allowed; choose one of {sorted(ESTIMATORS)}"
            )
        return self


class TrainingPolicy(SpecModel):
    """Which rows a run trains on and how much it holds out (the most recent, by event time)."""

    window_rows: int | None = Field(default=None, ge=10)
    window_days: float | None = Field(default=None, gt=0)
    holdout_fraction: float = Field(default=0.2, gt=0, lt=0.9)
    min_rows: int = Field(default=200, ge=10, description="Fewer labelled rows: no run.")

    @model_validator(mode="after")
    def _window_can_hold_min_rows(self) -> Self:
        # A run trains on at most window_rows rows and refuses fewer than min_rows, so
        # with min_rows above window_rows every run would fail: refuse it at apply.
        if self.window_rows is not None and self.min_rows > self.window_rows:
            raise ValueError(
                f"min_rows ({self.min_rows}) is greater than window_rows ({self.window_rows}):"
                " no run could ever have enough rows; lower min_rows or raise window_rows"
            )
        return self


class PromotionPolicy(SpecModel):
    """When a candidate replaces the champion."""

    metric: str
    min_improvement: float = Field(default=0.0, ge=0)
    floor: float | None = Field(default=None, description="The candidate must reach this.")
    max_slice_regression: float | None = Field(
        default=None,
        ge=0,
        description=(
            "Refuse a candidate worse than the champion by more than this (metric units) on"
            " any slice of the holdout (see evaluation:); unset, slices never refuse."
        ),
    )

    @model_validator(mode="after")
    def _metric_is_known(self) -> Self:
        if self.metric not in HIGHER_IS_BETTER:
            raise ValueError(
                f"metric {self.metric!r} unknown; choose one of {sorted(HIGHER_IS_BETTER)}"
            )
        return self


class PipelineSpec(SpecModel):
    """One pipeline, as applied with ``continuum pipelines apply FILE``."""

    name: PipelineName
    description: str = ""
    source_topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    task: Task
    record_schema: RecordSchema = Field(alias="schema")
    model: ModelSpec
    training: TrainingPolicy = Field(default_factory=TrainingPolicy)
    triggers: RetrainTriggers = Field(default_factory=RetrainTriggers)
    promotion: PromotionPolicy
    monitoring: MonitoringPolicy = Field(default_factory=MonitoringPolicy)
    ingest: IngestPolicy = Field(default_factory=IngestPolicy)
    evaluation: EvaluationPolicy = Field(default_factory=EvaluationPolicy)
    feature_views: list[FeatureView] = Field(default_factory=list)
    deployment: DeploymentPolicy = Field(default_factory=DeploymentPolicy)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _parts_agree(self) -> Self:
        _, estimator_task = ESTIMATORS[self.model.estimator]
        if estimator_task != self.task:
            raise ValueError(f"estimator {self.model.estimator} does not solve task {self.task}")
        if self.promotion.metric not in METRICS_BY_TASK[self.task]:
            raise ValueError(
                f"metric {self.promotion.metric!r} does not fit task {self.task}; "
                f"choose one of {list(METRICS_BY_TASK[self.task])}"
            )
        if self.source_topic.startswith("continuum."):
            raise ValueError("source_topic may not be one of Continuum's own continuum.* topics")
        return self

    @model_validator(mode="after")
    def _target_domain_fits_task(self) -> Self:
        _target_fits_task(self.task, self.record_schema.target)
        return self

    @model_validator(mode="after")
    def _feature_views_fit_schema(self) -> Self:
        problems = view_problems(self.record_schema, self.feature_views)
        if problems:
            raise ValidationError.from_exception_data(
                "PipelineSpec",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("feature_view", message),
                        loc=loc,
                        input=None,
                    )
                    for loc, message in problems
                ],
            )
        return self

    @property
    def model_input_columns(self) -> list[str]:
        """The model's input columns: schema features, then view features, in spec order."""
        return model_input_columns(self.record_schema, self.feature_views)

    @property
    def view_feature_kinds(self) -> dict[str, ColumnKind]:
        """Each view feature's kind (numeric or categorical), in spec order."""
        return view_feature_kinds(self.record_schema, self.feature_views)

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger promotion metric is better."""
        return HIGHER_IS_BETTER[self.promotion.metric]

    def canonical_json(self) -> str:
        """A stable JSON form (sorted keys, aliases) whose hash identifies the spec."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)

    def sha256(self) -> str:
        """Hash of the canonical form: equal specs hash equal whatever their YAML layout."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def parse_spec_yaml(text: str) -> PipelineSpec:
    """Parse and validate a YAML spec; raises ``ValueError``/``ValidationError`` with paths."""
    import yaml  # only the CLI and registry parse YAML; keep it off every import path

    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("a pipeline spec must be a YAML mapping")
    return PipelineSpec.model_validate(data)
