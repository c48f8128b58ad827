"""The champion's live quality on tumbling windows of labelled predictions.

Every ``monitoring.window_rows`` labelled predictions of the current champion make one
window; its metrics (``QualityWindow``'s, plus ``f1``, ``log_loss`` and ``r2``) and the
standard error of the promotion metric become one ``QualityMeasured`` event.

Standard errors:

* ``roc_auc``: Hanley & McNeil (1982), from the AUC and the positive/negative counts
  (:func:`continuum.modelkit.metric_noise.auc_std_error`, as the trainer uses for holdouts).
* ``accuracy``: the binomial ``sqrt(p(1-p)/n)``.
* ``f1``: an approximation. F1 = 2TP / (2TP + FP + FN) is treated as a proportion over
  ``(2TP + FP + FN) / 2`` trials, so ``sqrt(F1(1-F1) / ((2TP + FP + FN) / 2))``; it has
  the right order of magnitude and shrinks with the rows that matter to F1.
* ``log_loss``: the standard error of the mean per-row loss (needs probabilities).
* ``mae``: ``std(|error|) / sqrt(n)``.
* ``rmse``: the delta method, ``std(error²) / (2 · rmse · sqrt(n))`` (0 when rmse is 0).
* ``r2``: an approximation that treats the variance of the labels as known:
  ``r2 = 1 - MSE / var(y)``, so ``std(error²) / (sqrt(n) · var(y))``.

A window whose promotion metric (or its standard error) cannot be computed, e.g. one
class only for ``roc_auc``, yields no measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from continuum.contracts import Task
from continuum.modelkit.metric_noise import auc_std_error
from continuum.monitor.frames import label_key, number_value
from continuum.monitor.quality import LoggedPrediction, QualityWindow, _positive_class

LOSS_EPSILON = 1e-15
"""Probabilities are clipped to [eps, 1 - eps] for the log loss, like scikit-learn's."""


@dataclass(frozen=True)
class Measurement:
    """One full window's quality."""

    metric: str
    value: float
    std_error: float
    metrics: dict[str, float]
    rows: int
    window_start: datetime
    window_end: datetime


@dataclass
class LiveWindow:
    """A tumbling window of labelled predictions of one model version."""

    model_version: int
    size: int
    pairs: list[tuple[LoggedPrediction, Any]] = field(default_factory=list)

    def add(self, logged: LoggedPrediction, label: Any) -> list[tuple[LoggedPrediction, Any]]:
        """One more pair; returns the full window's pairs (and starts over) when full."""
        self.pairs.append((logged, label))
        if len(self.pairs) < self.size:
            return []
        full, self.pairs = self.pairs, []
        return full


def _finite(value: float) -> bool:
    return math.isfinite(value)


def _sem(values: np.ndarray[Any, Any]) -> float:
    if len(values) < 2:
        return math.nan
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def _classification(
    pairs: list[tuple[LoggedPrediction, Any]], metrics: dict[str, float]
) -> dict[str, float]:
    """Adds f1 and log_loss to ``metrics``; returns the standard errors it can compute."""
    truth = [label_key(label) for _, label in pairs]
    predicted = [label_key(p.prediction) for p, _ in pairs]
    n = len(pairs)
    errors: dict[str, float] = {}
    if "accuracy" in metrics:
        hit_rate = metrics["accuracy"]
        errors["accuracy"] = math.sqrt(hit_rate * (1 - hit_rate) / n)
    probabilities = [p.probabilities for p, _ in pairs if p.probabilities]
    keys = {str(k) for k in (*truth, *predicted) if isinstance(k, str)}
    if probabilities:
        positive = _positive_class(probabilities[-1])
    elif keys:
        positive = _positive_class(dict.fromkeys(keys, 0.0))
    else:
        return errors
    if "roc_auc" in metrics:
        n_pos = sum(
            1
            for (p, _), t in zip(pairs, truth, strict=True)
            if p.probabilities and positive in p.probabilities and t == positive
        )
        n_neg = sum(1 for p, _ in pairs if p.probabilities and positive in p.probabilities) - n_pos
        # One class only: the AUC has no standard error, so the window yields no measurement.
        if n_pos > 0 and n_neg > 0:
            errors["roc_auc"] = auc_std_error(metrics["roc_auc"], n_pos, n_neg)
    tp = sum(1 for t, y in zip(truth, predicted, strict=True) if t == positive and y == positive)
    fp = sum(1 for t, y in zip(truth, predicted, strict=True) if t != positive and y == positive)
    fn = sum(1 for t, y in zip(truth, predicted, strict=True) if t == positive and y != positive)
    if 2 * tp + fp + fn > 0:
        f1 = 2 * tp / (2 * tp + fp + fn)
        metrics["f1"] = f1
        errors["f1"] = math.sqrt(f1 * (1 - f1) / ((2 * tp + fp + fn) / 2))
    if all(p.probabilities for p, _ in pairs):
        losses = []
        for (p, _), t in zip(pairs, truth, strict=True):
            assert p.probabilities is not None
            chance = p.probabilities.get(t) if isinstance(t, str) else None
            if chance is None:
                break
            losses.append(-math.log(min(max(chance, LOSS_EPSILON), 1 - LOSS_EPSILON)))
        else:
            loss = np.array(losses)
            metrics["log_loss"] = float(loss.mean())
            errors["log_loss"] = _sem(loss)
    return errors


def _regression(
    pairs: list[tuple[LoggedPrediction, Any]], metrics: dict[str, float]
) -> dict[str, float]:
    """Adds r2 to ``metrics``; returns the standard errors it can compute."""
    predicted = np.array([number_value(p.prediction) for p, _ in pairs])
    actual = np.array([number_value(label) for _, label in pairs])
    ok = ~(np.isnan(predicted) | np.isnan(actual))
    error = predicted[ok] - actual[ok]
    n = len(error)
    if n < 2:
        return {}
    squared = error**2
    errors = {"mae": _sem(np.abs(error))}
    rmse = metrics.get("rmse", math.nan)
    spread = float(np.std(squared, ddof=1))
    errors["rmse"] = 0.0 if rmse == 0 else spread / (2 * rmse * math.sqrt(n))
    variance = float(np.var(actual[ok]))
    if variance > 0:
        metrics["r2"] = 1 - float(squared.mean()) / variance
        errors["r2"] = spread / (math.sqrt(n) * variance)
    return errors


def measure(
    task: Task, metric: str, pairs: list[tuple[LoggedPrediction, Any]]
) -> Measurement | None:
    """The window's metrics and the promotion metric's standard error, if defined."""
    if not pairs:
        return None
    window = QualityWindow(task, len(pairs))
    for logged, label in pairs:
        window.add(logged, label)
    metrics = window.metrics()
    if task == "regression":
        errors = _regression(pairs, metrics)
    else:
        errors = _classification(pairs, metrics)
    metrics = {name: value for name, value in metrics.items() if _finite(value)}
    value, std_error = metrics.get(metric), errors.get(metric)
    if value is None or std_error is None or not _finite(std_error):
        return None
    times = [p.at for p, _ in pairs if p.at is not None]
    if not times:
        return None
    return Measurement(
        metric=metric,
        value=value,
        std_error=max(std_error, 0.0),
        metrics=metrics,
        rows=len(pairs),
        window_start=min(times),
        window_end=max(times),
    )
