"""Prequential replay of a stream: predict each batch with the served model, then learn.

Every strategy sees the same batches in the same order. After batch ``t`` is predicted,
its labels are delivered and the strategy may train on the labelled rows so far (the
spec's training window and time-based holdout, fitted by ``continuum.modelkit`` exactly as
the trainer does); the model it serves then predicts batch ``t + 1``. A model trained
after batch ``t`` is the same whichever strategy asked for it, so fits are cached and
shared, and each strategy is charged for every fit it asked for.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from bench.quality.streams import EVENT_TIME, LABEL, Stream
from continuum.modelkit import (
    EVENT_TIME_COLUMN,
    apply_window,
    feature_columns,
    fit,
    join_views,
    metric_noise,
    time_holdout,
)
from continuum.modelkit.metrics import score


@dataclass
class Trained:
    """A model fitted after some batch, with its holdout (the window's newest rows)."""

    after_batch: int
    pipeline: Pipeline
    holdout: pd.DataFrame
    y_holdout: np.ndarray[Any, Any]
    holdout_score: float
    rows_train: int
    fit_seconds: float


@dataclass
class Replay:
    """A stream cut into batches, with cached fits and predictions."""

    stream: Stream
    batches: list[pd.DataFrame] = field(default_factory=list)
    fits: dict[int, Trained] = field(default_factory=dict)
    scores: dict[tuple[int, int], np.ndarray[Any, Any]] = field(default_factory=dict)
    on_fit: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        frame = self.stream.frame.copy()
        frame[EVENT_TIME_COLUMN] = frame[EVENT_TIME]
        # A spec with feature views: each row gets them as of its event time, as the
        # trainer joins them (a no-op for the specs here, which have none).
        frame = join_views(frame, self.spec)
        size = self.stream.batch_rows
        self.batches = [
            frame.iloc[i : i + size].reset_index(drop=True) for i in range(0, len(frame), size)
        ]
        if len(self.batches[-1]) < size // 2:  # a short tail batch would be a noisy point
            self.batches.pop()

    @property
    def spec(self) -> Any:
        return self.stream.spec

    def labels(self, batch: int) -> np.ndarray[Any, Any]:
        return self.batches[batch][LABEL].to_numpy()

    def train(self, after_batch: int) -> Trained:
        """The model the trainer would build once batch ``after_batch``'s labels are in."""
        if after_batch in self.fits:
            return self.fits[after_batch]
        rows = pd.concat(self.batches[: after_batch + 1], ignore_index=True)
        rows, y = apply_window(self.spec, rows, rows[LABEL])
        split = time_holdout(rows, y, self.spec.training.holdout_fraction)
        started = time.perf_counter()
        result = fit(self.spec, split.train, split.y_train)
        seconds = time.perf_counter() - started
        holdout = feature_columns(self.spec, split.test)
        metric = self.spec.promotion.metric
        trained = Trained(
            after_batch=after_batch,
            pipeline=result.pipeline,
            holdout=holdout,
            y_holdout=split.y_test.to_numpy(),
            holdout_score=score(result.pipeline, holdout, split.y_test, self.spec.task)[metric],
            rows_train=len(split.train),
            fit_seconds=seconds,
        )
        self.fits[after_batch] = trained
        if self.on_fit is not None:
            self.on_fit(after_batch)
        return trained

    def first_trainable(self) -> int:
        """The first batch after which ``training.min_rows`` labelled rows exist."""
        total = 0
        for index, batch in enumerate(self.batches):
            total += len(batch)
            if total >= self.spec.training.min_rows:
                return index
        raise ValueError("the stream never has training.min_rows rows")

    def predict(self, model_after: int, batch: int) -> np.ndarray[Any, Any]:
        """Positive-class scores of the model trained after ``model_after`` on ``batch``."""
        key = (model_after, batch)
        if key not in self.scores:
            trained = self.train(model_after)
            inputs = feature_columns(self.spec, self.batches[batch])
            self.scores[key] = trained.pipeline.predict_proba(inputs)[:, 1]
        return self.scores[key]

    def score_on(self, model_after: int, data: pd.DataFrame, y: np.ndarray[Any, Any]) -> float:
        """The promotion metric of a cached model on other rows (the gate's champion score)."""
        return auc(y, self.train(model_after).pipeline.predict_proba(data)[:, 1])


def auc(y: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float:
    """ROC AUC, NaN when only one class is present."""
    if len(np.unique(y)) < 2:
        return math.nan
    return float(roc_auc_score(y, scores))


def auc_std_error(value: float, y: np.ndarray[Any, Any]) -> float:
    """Hanley & McNeil's standard error of an AUC on these labels (inf when undefined)."""
    n_pos = int(np.sum(y))
    if n_pos == 0 or n_pos == len(y) or math.isnan(value):
        return math.inf
    return metric_noise.auc_std_error(value, n_pos, len(y) - n_pos)
