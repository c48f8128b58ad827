"""Standard errors of a metric measured on a finite sample (for the retraining policy).

The cost-aware policy (:mod:`continuum.modelkit.retrain_policy`) discounts noise: a score
on a holdout of a few hundred rows moves by itself. These give that noise from what a run
reports (the metric, the holdout's size and, for binary classification, its class counts).
"""

from __future__ import annotations

import math

__all__ = ["auc_std_error", "holdout_std_error", "window_spread"]


def auc_std_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982): the standard error of an ROC AUC from its class counts."""
    if n_pos < 1 or n_neg < 1 or not math.isfinite(auc):
        return 0.0
    auc = min(max(auc, 0.0), 1.0)
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)
    ) / (n_pos * n_neg)
    return math.sqrt(max(variance, 0.0))


def holdout_std_error(metric: str, value: float | None, rows: int) -> float:
    """The standard error of ``metric`` = ``value`` on ``rows`` holdout rows, approximated.

    ``roc_auc``: Hanley & McNeil with balanced classes (``rows / 2`` each; for when the
    holdout's class counts are unknown, e.g. a run reported before ``ModelTrained`` carried
    them; :func:`auc_std_error` takes them. Balance is the optimistic, smallest error);
    ``accuracy``: the binomial ``sqrt(p (1 - p) / n)``. Other metrics (f1, log_loss, the
    regression metrics) need the per-row spread, which a run does not report: 0.
    """
    if value is None or not math.isfinite(value) or rows < 2:
        return 0.0
    if metric == "roc_auc":
        half = rows // 2
        return auc_std_error(value, half, rows - half)
    if metric == "accuracy":
        p = min(max(value, 0.0), 1.0)
        return math.sqrt(p * (1 - p) / rows)
    return 0.0


def window_spread(values: tuple[float, ...]) -> float:
    """How much the metric moves between windows by itself (scaled MAD; 0 below 4 windows).

    Windows differ in difficulty (a stormy week, a holiday), not only by sampling noise:
    the median absolute deviation of recent windows measures that, and a single sharp
    drop barely moves it.
    """
    if len(values) < 4:
        return 0.0
    ordered = sorted(values)
    median = ordered[len(ordered) // 2]
    deviations = sorted(abs(v - median) for v in values)
    return 1.4826 * deviations[len(deviations) // 2]
