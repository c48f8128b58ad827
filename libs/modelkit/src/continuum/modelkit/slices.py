"""Slices of a holdout, and how a candidate and the champion score on each of them.

An overall score can hide a part of the data where a model is much worse: a new model
that gains a little on average may lose a lot on one airport. A slice is one value of a
categorical feature, or one quantile bin of a numeric feature (edges from the holdout
itself), with at least ``slice_min_rows`` rows (the spec's ``evaluation:`` section).
Scoring works on outputs predicted once for the whole holdout (:class:`ModelOutputs`), so
slicing costs metric computations, not predictions. The trainer stores the result on the
model card and in the report; the registry computes it again from the stored holdout
for its gate (``promotion.max_slice_regression``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from continuum.contracts import HIGHER_IS_BETTER, PipelineSpec
from continuum.contracts.evaluation_policy import EvaluationPolicy
from continuum.modelkit.frames import coerce_features, input_kinds
from continuum.modelkit.metrics import ModelOutputs, metrics_of

MISSING_VALUE = "(missing)"
"""The slice of rows where a feature has no value."""

MAX_VALUES_PER_FEATURE = 50
"""At most this many (largest) slices per categorical: bounds the work on many-valued ones."""

SliceFlag = Literal["worse_than_champion", "worse_than_overall"]


@dataclass(frozen=True)
class Slice:
    """Rows of the holdout where ``feature`` has ``value`` (a category or a bin)."""

    feature: str
    value: str
    mask: np.ndarray[Any, Any]


def _edge(value: float) -> str:
    return f"{value:.4g}"


def _numeric_slices(name: str, values: pd.Series, bins: int) -> list[Slice]:
    present = values.notna().to_numpy()
    numbers = values.to_numpy(dtype=float)
    if not present.any():
        return []
    edges = np.unique(np.quantile(numbers[present], np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:  # one distinct value: a bin would be the whole column
        return []
    # A value on an inner edge belongs to the upper bin: [a, b), the last one [a, b].
    index = np.searchsorted(edges[1:-1], numbers, side="right")
    out = []
    for i in range(len(edges) - 1):
        closing = "]" if i == len(edges) - 2 else ")"
        label = f"[{_edge(edges[i])}, {_edge(edges[i + 1])}{closing}"
        out.append(Slice(name, label, present & (index == i)))
    return out


def define_slices(
    spec: PipelineSpec, frame: pd.DataFrame, *, bins: int, min_rows: int
) -> list[Slice]:
    """The slices of ``frame`` (raw or typed rows) with at least ``min_rows`` rows each.

    Per model input in order (schema features, then view features): each categorical
    value (the ``MAX_VALUES_PER_FEATURE`` largest), or ``bins`` quantile bins of a numeric
    (fewer when quantiles coincide), and the rows where the input is missing.
    """
    features = coerce_features(spec, frame)
    out: list[Slice] = []
    for name, kind in input_kinds(spec).items():
        column = features[name]
        if kind == "categorical":
            counts = column.value_counts(dropna=True).head(MAX_VALUES_PER_FEATURE)
            values = column.to_numpy()
            found = [Slice(name, str(v), values == v) for v in counts.index]
        else:
            found = _numeric_slices(name, column, bins)
        missing = column.isna().to_numpy()
        if missing.any():
            found.append(Slice(name, MISSING_VALUE, missing))
        out.extend(s for s in found if int(s.mask.sum()) >= min_rows)
    return out


class SliceScore(BaseModel):
    """One slice: its size, both models' metrics on it, and what was flagged."""

    model_config = ConfigDict(frozen=True)

    feature: str
    value: str
    rows: int
    metrics: dict[str, float]
    champion_metrics: dict[str, float] = Field(default_factory=dict)
    flags: list[SliceFlag] = Field(default_factory=list)

    @property
    def name(self) -> str:
        """``feature=value``, as reasons and reports name the slice."""
        return f"{self.feature}={self.value}"


class SliceEvaluation(BaseModel):
    """Every slice of one holdout scored for the candidate and, when there is one, the champion."""

    model_config = ConfigDict(frozen=True)

    metric: str
    threshold: float = Field(description="Flag when worse by more than this (metric units).")
    min_rows: int
    bins: int
    rows: int = Field(description="Holdout rows sliced.")
    overall: dict[str, float]
    champion_overall: dict[str, float] = Field(default_factory=dict)
    slices: list[SliceScore] = Field(default_factory=list)

    def worse_by(self, better: float | None, worse: float | None) -> float | None:
        """How much ``worse`` trails ``better`` in the metric's direction (> 0: worse)."""
        if better is None or worse is None:
            return None
        return better - worse if HIGHER_IS_BETTER[self.metric] else worse - better

    def regression(self, item: SliceScore) -> float | None:
        """How much worse the candidate is than the champion on ``item`` (> 0: worse)."""
        return self.worse_by(item.champion_metrics.get(self.metric), item.metrics.get(self.metric))

    def worst_regression(self) -> tuple[SliceScore, float] | None:
        """The slice where the candidate trails the champion most, and by how much."""
        found = [(s, r) for s in self.slices if (r := self.regression(s)) is not None]
        return max(found, key=lambda pair: pair[1]) if found else None

    @property
    def flagged(self) -> list[SliceScore]:
        """The slices with at least one flag."""
        return [s for s in self.slices if s.flags]


def evaluate_slices(
    spec: PipelineSpec,
    frame: pd.DataFrame,
    y: Any,
    candidate: ModelOutputs,
    champion: ModelOutputs | None = None,
    policy: EvaluationPolicy | None = None,
) -> SliceEvaluation:
    """Score ``candidate`` (and ``champion``) on every slice of ``frame``.

    ``y`` and both outputs are row-aligned with ``frame``. ``policy`` defaults to the
    spec's ``evaluation`` section. A slice is flagged ``worse_than_champion`` or
    ``worse_than_overall`` when the candidate trails by more than the threshold.
    """
    policy = policy or spec.evaluation
    task, metric = spec.task, spec.promotion.metric
    labels = np.asarray(y)
    evaluation = SliceEvaluation(
        metric=metric,
        threshold=policy.slice_flag_threshold,
        min_rows=policy.slice_min_rows,
        bins=policy.slice_bins,
        rows=len(frame),
        overall=metrics_of(candidate, labels, task),
        champion_overall=metrics_of(champion, labels, task) if champion else {},
    )
    scored = []
    for item in define_slices(spec, frame, bins=policy.slice_bins, min_rows=policy.slice_min_rows):
        mine = metrics_of(candidate.rows(item.mask), labels[item.mask], task)
        theirs = metrics_of(champion.rows(item.mask), labels[item.mask], task) if champion else {}
        score = SliceScore(
            feature=item.feature,
            value=item.value,
            rows=int(item.mask.sum()),
            metrics=mine,
            champion_metrics=theirs,
        )
        flags: list[SliceFlag] = []
        if (evaluation.regression(score) or 0.0) > policy.slice_flag_threshold:
            flags.append("worse_than_champion")
        below_own = evaluation.worse_by(evaluation.overall.get(metric), mine.get(metric))
        if (below_own or 0.0) > policy.slice_flag_threshold:
            flags.append("worse_than_overall")
        scored.append(score.model_copy(update={"flags": flags}))
    return evaluation.model_copy(update={"slices": scored})
