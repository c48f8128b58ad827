"""The holdout's class counts (for the exact standard error of its AUC)."""

from __future__ import annotations

import pandas as pd

from continuum.contracts import parse_spec_yaml
from continuum.modelkit.frames import EVENT_TIME_COLUMN
from continuum.modelkit.training import time_holdout

SPEC = """
name: demo
source_topic: demo.events
task: {task}
schema:
  event_time: ts
  target: {target}
  features:
    - {{name: x, type: numeric}}
model: {{estimator: {estimator}}}
promotion: {{metric: {metric}}}
"""


def _frame(labels: list[int]) -> tuple[pd.DataFrame, pd.Series]:
    times = pd.date_range("2026-01-01", periods=len(labels), freq="h", tz="UTC")
    frame = pd.DataFrame({EVENT_TIME_COLUMN: times, "x": range(len(labels))})
    return frame, pd.Series(labels)


def test_the_larger_declared_class_is_the_positive_one() -> None:
    spec = parse_spec_yaml(
        SPEC.format(
            task="binary_classification",
            target="{name: y, classes: [1, -1]}",
            estimator="LogisticRegression",
            metric="roc_auc",
        )
    )
    # The holdout is the most recent half: -1, 1, 1, 1.
    split = time_holdout(*_frame([1, -1, 1, -1, -1, 1, 1, 1]), 0.5)
    assert split.class_counts(spec) == (3, 1)


def test_regression_has_no_class_counts() -> None:
    spec = parse_spec_yaml(
        SPEC.format(task="regression", target="{name: y}", estimator="Ridge", metric="rmse")
    )
    assert time_holdout(*_frame([3, 1, 4, 1]), 0.5).class_counts(spec) is None
