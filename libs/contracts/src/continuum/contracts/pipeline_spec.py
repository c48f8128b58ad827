"""A pipeline as code: the YAML spec users apply to the registry.

A spec says where records come from and what they look like, what to train and how,
when to retrain, when a candidate may replace the champion, and how to watch it.
Validation is strict (unknown keys are refused) so a typo fails at ``apply`` time
with the path to the bad field, not at three in the morning inside a service.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from continuum.contracts.envelope import PipelineName
from continuum.contracts.evaluation_policy import EvaluationPolicy

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


class SpecModel(BaseModel):
    """Strict base: unknown keys in a spec are errors, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ColumnName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class NumericFeature(SpecModel):
    """A numeric column, with optional bounds."""

    name: ColumnName
    type: Literal["numeric"] = "numeric"
    min: float | None = None
    max: float | None = None
    nullable: bool = True

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CategoricalFeature(SpecModel):
    """A categorical column; ``values`` (if given) is the closed set allowed."""

    name: ColumnName
    type: Literal["categorical"] = "categorical"
    values: list[str] | None = None
    nullable: bool = True


Feature = Annotated[NumericFeature | CategoricalFeature, Field(discriminator="type")]


ClassLabel = Annotated[StrictInt, Field(ge=-(2**63), le=2**63 - 1)]
"""A class label: an integer that fits the int64 label column (``true`` is not ``1`` here)."""

DEFAULT_CLASSES: tuple[int, int] = (0, 1)
"""The classes of a binary target whose spec does not name them."""


class Target(SpecModel):
    """The label column and its domain. Absent from a record means 'not labelled yet'.

    Binary classification: ``classes`` are the two label values (default ``[0, 1]``).
    scikit-learn sorts them, so the larger is the positive class (``f1``, ``roc_auc``).
    Only integers for now: string classes are not supported yet (batches store the label
    as int64). Regression: optional inclusive ``min``/``max``. Ingest refuses a label
    outside this domain, so one bad producer cannot make every later training run fail.
    """

    name: ColumnName
    classes: list[ClassLabel] | None = Field(
        default=None, description="Binary classification only: the two classes (default [0, 1])."
    )
    min: float | None = Field(
        default=None, allow_inf_nan=False, description="Regression only: lowest label allowed."
    )
    max: float | None = Field(
        default=None, allow_inf_nan=False, description="Regression only: highest label allowed."
    )

    @field_validator("classes")
    @classmethod
    def _two_distinct_classes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (len(value) != 2 or value[0] == value[1]):
            raise ValueError(f"classes must be exactly two distinct integers, got {value}")
        return value

    @field_validator("max")
    @classmethod
    def _max_not_below_min(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("min")
        if value is not None and low is not None and low > value:
            raise ValueError(f"min ({low}) is greater than max ({value})")
        return value

    @property
    def binary_classes(self) -> tuple[int, int]:
        """The two classes of a binary target: ``classes``, else :data:`DEFAULT_CLASSES`."""
        return (self.classes[0], self.classes[1]) if self.classes else DEFAULT_CLASSES


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


class RecordSchema(SpecModel):
    """What one record on the source topic looks like."""

    features: list[Feature] = Field(min_length=1)
    target: Target
    event_time: ColumnName = Field(description="ISO-8601 time the event happened (orders data).")
    entity_id: ColumnName | None = Field(default=None, description="Optional row identity.")

    @model_validator(mode="after")
    def _names_are_unique(self) -> Self:
        names = [f.name for f in self.features] + [self.target.name, self.event_time]
        if self.entity_id:
            names.append(self.entity_id)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"column names used twice: {dupes}")
        return self

    @property
    def feature_names(self) -> list[str]:
        """Feature column names in spec order (the model's input order)."""
        return [f.name for f in self.features]


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
