"""Holdout metrics per task (the names are ``continuum.contracts.METRICS_BY_TASK``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from continuum.contracts import METRICS_BY_TASK, Task

SEARCH_SCORING: dict[str, str] = {
    "roc_auc": "roc_auc",
    "accuracy": "accuracy",
    "f1": "f1",
    "log_loss": "neg_log_loss",
    "r2": "r2",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
}
"""Each metric as a scikit-learn scorer name (greater is better), for the search."""


@dataclass(frozen=True)
class ModelOutputs:
    """What a model predicted for each row of a frame, kept to score any subset of rows.

    ``predicted`` holds labels (classification) or values (regression); ``proba`` the
    class probabilities in ``classes`` order, when the model gives them.
    """

    predicted: np.ndarray[Any, Any]
    proba: np.ndarray[Any, Any] | None = None
    classes: tuple[Any, ...] = ()

    def rows(self, mask: np.ndarray[Any, Any]) -> ModelOutputs:
        """The outputs of the rows a boolean mask (or an array of positions) selects."""
        proba = self.proba[mask] if self.proba is not None else None
        return ModelOutputs(self.predicted[mask], proba, self.classes)


def model_outputs(pipeline: Pipeline, frame: pd.DataFrame, task: Task) -> ModelOutputs:
    """Predict once for ``frame`` (its model input columns)."""
    predicted = np.asarray(pipeline.predict(frame))
    if task == "regression":
        return ModelOutputs(predicted.astype(float))
    proba = pipeline.predict_proba(frame) if hasattr(pipeline, "predict_proba") else None
    return ModelOutputs(predicted, proba, tuple(pipeline.classes_))


def _classification(outputs: ModelOutputs, y_true: np.ndarray[Any, Any]) -> dict[str, float]:
    classes = list(outputs.classes)
    predicted = outputs.predicted
    out = {"accuracy": float(accuracy_score(y_true, predicted))}
    if len(classes) == 2:
        out["f1"] = float(f1_score(y_true, predicted, pos_label=classes[1], zero_division=0))
    if outputs.proba is not None:
        proba = outputs.proba
        out["log_loss"] = float(log_loss(y_true, proba, labels=classes))
        # ROC AUC is undefined when the holdout holds a single class: leave it out
        # rather than report a number that means nothing.
        if len(classes) == 2 and len(np.unique(y_true)) == 2:
            out["roc_auc"] = float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    return out


def _regression(outputs: ModelOutputs, y_true: np.ndarray[Any, Any]) -> dict[str, float]:
    predicted = outputs.predicted
    out = {
        "rmse": float(math.sqrt(mean_squared_error(y_true, predicted))),
        "mae": float(mean_absolute_error(y_true, predicted)),
    }
    if len(y_true) >= 2:
        out["r2"] = float(r2_score(y_true, predicted))
    return out


def metrics_of(outputs: ModelOutputs, y: Any, task: Task) -> dict[str, float]:
    """Every metric of ``task`` defined on these rows (finite values only)."""
    if len(outputs.predicted) == 0:
        return {}
    raw = (
        _classification(outputs, np.asarray(y))
        if task != "regression"
        else _regression(outputs, np.asarray(y, dtype=float))
    )
    wanted = METRICS_BY_TASK[task]
    return {name: raw[name] for name in wanted if name in raw and math.isfinite(raw[name])}


def score(pipeline: Pipeline, frame: pd.DataFrame, y: Any, task: Task) -> dict[str, float]:
    """Every metric of ``task`` that is defined on this holdout (finite values only)."""
    if len(frame) == 0:
        return {}
    return metrics_of(model_outputs(pipeline, frame, task), y, task)
