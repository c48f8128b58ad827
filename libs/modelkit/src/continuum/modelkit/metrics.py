"""Holdout metrics per task (the names are ``continuum.contracts.METRICS_BY_TASK``)."""

from __future__ import annotations

import math
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


def _classification(pipeline: Pipeline, frame: pd.DataFrame, y: Any) -> dict[str, float]:
    y_true = np.asarray(y)
    predicted = pipeline.predict(frame)
    classes = list(pipeline.classes_)
    out = {"accuracy": float(accuracy_score(y_true, predicted))}
    if len(classes) == 2:
        out["f1"] = float(f1_score(y_true, predicted, pos_label=classes[1], zero_division=0))
    if hasattr(pipeline, "predict_proba"):
        proba = pipeline.predict_proba(frame)
        out["log_loss"] = float(log_loss(y_true, proba, labels=classes))
        # ROC AUC is undefined when the holdout holds a single class: leave it out
        # rather than report a number that means nothing.
        if len(classes) == 2 and len(np.unique(y_true)) == 2:
            out["roc_auc"] = float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    return out


def _regression(pipeline: Pipeline, frame: pd.DataFrame, y: Any) -> dict[str, float]:
    y_true = np.asarray(y, dtype=float)
    predicted = pipeline.predict(frame)
    out = {
        "rmse": float(math.sqrt(mean_squared_error(y_true, predicted))),
        "mae": float(mean_absolute_error(y_true, predicted)),
    }
    if len(y_true) >= 2:
        out["r2"] = float(r2_score(y_true, predicted))
    return out


def score(pipeline: Pipeline, frame: pd.DataFrame, y: Any, task: Task) -> dict[str, float]:
    """Every metric of ``task`` that is defined on this holdout (finite values only)."""
    if len(frame) == 0:
        return {}
    raw = (
        _classification(pipeline, frame, y)
        if task != "regression"
        else _regression(pipeline, frame, y)
    )
    wanted = METRICS_BY_TASK[task]
    return {name: raw[name] for name in wanted if name in raw and math.isfinite(raw[name])}
