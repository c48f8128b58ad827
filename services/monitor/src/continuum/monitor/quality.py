"""Delayed ground truth joined to logged predictions, and model quality over a rolling window.

Computed with numpy only (no scikit-learn in the monitor): accuracy and ROC AUC for
binary classification, MAE and RMSE for regression.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from continuum.contracts import Task
from continuum.monitor.frames import label_key, number_value


@dataclass(frozen=True)
class LoggedPrediction:
    """What is kept of a prediction until its label arrives."""

    model_version: int
    prediction: Any
    probabilities: dict[str, float] | None
    at: datetime | None = None
    """The prediction's event time (or when it was logged)."""


class PredictionJoin:
    """The last ``capacity`` predictions by request id and by entity id (LRU, bounded)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str, str], LoggedPrediction] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def _put(self, key: tuple[str, str, str], value: LoggedPrediction) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def remember(
        self, pipeline: str, request_id: str, entity_id: str | None, logged: LoggedPrediction
    ) -> None:
        """Keep a prediction joinable by its request id and (the latest one) by entity id."""
        self._put((pipeline, "request", request_id), logged)
        if entity_id:
            self._put((pipeline, "entity", entity_id), logged)

    def pop(
        self, pipeline: str, request_id: str | None, entity_id: str | None
    ) -> LoggedPrediction | None:
        """The prediction a label belongs to (request id first), forgotten once joined."""
        for kind, key in (("request", request_id), ("entity", entity_id)):
            if key:
                found = self._items.pop((pipeline, kind, key), None)
                if found is not None:
                    return found
        return None


def roc_auc(positive: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties averaged); ``None`` with one class only."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=float)
    i = 0
    while i < len(sorted_scores):  # average ranks over ties
        j = i
        while j + 1 < len(sorted_scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = float(ranks[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _positive_class(probabilities: dict[str, float]) -> str:
    # scikit-learn's classes_ are sorted and predict_proba's last column is the positive
    # class; serving names the columns str(class). Sort numerically when they are numbers.
    def order(key: str) -> tuple[int, float, str]:
        try:
            return (0, float(key), key)
        except ValueError:
            return (1, 0.0, key)

    return max(probabilities, key=order)


class QualityWindow:
    """The last ``size`` labelled predictions of one model version."""

    def __init__(self, task: Task, size: int) -> None:
        self.task = task
        self.pairs: deque[tuple[LoggedPrediction, Any]] = deque(maxlen=size)

    def add(self, logged: LoggedPrediction, label: Any) -> None:
        """One more labelled prediction (the oldest falls out when full)."""
        self.pairs.append((logged, label))

    def metrics(self) -> dict[str, float]:
        """Quality over the window; a metric that cannot be computed yet is left out."""
        if not self.pairs:
            return {}
        if self.task == "regression":
            return self._regression()
        return self._classification()

    def _regression(self) -> dict[str, float]:
        predicted = np.array([number_value(p.prediction) for p, _ in self.pairs])
        actual = np.array([number_value(label) for _, label in self.pairs])
        ok = ~(np.isnan(predicted) | np.isnan(actual))
        if not ok.any():
            return {}
        error = predicted[ok] - actual[ok]
        return {
            "mae": float(np.abs(error).mean()),
            "rmse": float(math.sqrt(float((error**2).mean()))),
        }

    def _classification(self) -> dict[str, float]:
        truth = [label_key(label) for _, label in self.pairs]
        hits = [label_key(p.prediction) == t for (p, _), t in zip(self.pairs, truth, strict=True)]
        result = {"accuracy": float(np.mean(hits))}
        scored = [
            (p.probabilities, t)
            for (p, _), t in zip(self.pairs, truth, strict=True)
            if p.probabilities
        ]
        if scored:
            positive = _positive_class(scored[-1][0])
            usable = [(probs[positive], t == positive) for probs, t in scored if positive in probs]
            if usable:
                auc = roc_auc(
                    np.array([is_pos for _, is_pos in usable], dtype=bool),
                    np.array([score for score, _ in usable], dtype=float),
                )
                if auc is not None:
                    result["roc_auc"] = auc
        return result
