"""Training helpers: the window, the time-based holdout, fitting with optional search."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats  # type: ignore[import-untyped]
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (enables the import)
from sklearn.model_selection import HalvingRandomSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline

from continuum.contracts import PipelineSpec
from continuum.contracts.pipeline_spec import Distribution, SearchSpace
from continuum.modelkit.frames import EVENT_TIME_COLUMN, feature_columns
from continuum.modelkit.metrics import SEARCH_SCORING
from continuum.modelkit.pipeline import MODEL_STEP, build_pipeline, pipeline_param_name


def apply_window(
    spec: PipelineSpec, frame: pd.DataFrame, y: pd.Series
) -> tuple[pd.DataFrame, pd.Series]:
    """Keep the most recent ``window_rows`` rows and/or the last ``window_days`` days.

    ``frame`` must be sorted by :data:`EVENT_TIME_COLUMN` (as ``training_frame`` returns it).
    """
    policy = spec.training
    keep = np.ones(len(frame), dtype=bool)
    if policy.window_days is not None and len(frame):
        times = frame[EVENT_TIME_COLUMN]
        keep &= (times >= times.max() - pd.Timedelta(days=policy.window_days)).to_numpy()
    if policy.window_rows is not None:
        positions = np.flatnonzero(keep)[-policy.window_rows :]
        keep = np.zeros(len(frame), dtype=bool)
        keep[positions] = True
    return frame.loc[keep].reset_index(drop=True), y.loc[keep].reset_index(drop=True)


@dataclass(frozen=True)
class Holdout:
    """Train rows (older) and holdout rows (the most recent by event time)."""

    train: pd.DataFrame
    y_train: pd.Series
    test: pd.DataFrame
    y_test: pd.Series

    def class_counts(self, spec: PipelineSpec) -> tuple[int, int] | None:
        """Binary classification: the holdout's (positives, negatives), else ``None``.

        The positive class is the larger of the target's two classes, as scikit-learn
        orders them for ``roc_auc`` and ``f1``. The counts give the exact Hanley-McNeil
        standard error of the holdout's AUC (:mod:`continuum.modelkit.metric_noise`).
        """
        if spec.task != "binary_classification":
            return None
        negative, positive = sorted(spec.record_schema.target.binary_classes)
        labels = self.y_test.to_numpy()
        return int((labels == positive).sum()), int((labels == negative).sum())


def time_holdout(frame: pd.DataFrame, y: pd.Series, fraction: float) -> Holdout:
    """Split off the most recent ``fraction`` of rows by event time (at least one row each)."""
    if len(frame) < 2:
        raise ValueError(f"need at least 2 labelled rows for a holdout, have {len(frame)}")
    order = frame[EVENT_TIME_COLUMN].argsort(kind="stable").to_numpy()
    n_test = min(max(1, math.ceil(len(frame) * fraction)), len(frame) - 1)
    train_idx, test_idx = order[:-n_test], order[-n_test:]
    return Holdout(
        train=frame.iloc[train_idx].reset_index(drop=True),
        y_train=y.iloc[train_idx].reset_index(drop=True),
        test=frame.iloc[test_idx].reset_index(drop=True),
        y_test=y.iloc[test_idx].reset_index(drop=True),
    )


def _dimension(dim: Any) -> Any:
    if isinstance(dim, Distribution):
        if dim.distribution == "uniform":
            return stats.uniform(loc=dim.low, scale=dim.high - dim.low)
        if dim.distribution == "loguniform":
            return stats.loguniform(dim.low, dim.high)
        return stats.randint(int(dim.low), int(dim.high))
    return list(dim)


def search_distributions(search: SearchSpace) -> dict[str, Any]:
    """The spec's search space as ``HalvingRandomSearchCV`` parameter distributions.

    Lists become choices; distributions become scipy.stats objects. Names without ``__``
    are the estimator's own parameters and get the ``model__`` prefix.
    """
    return {pipeline_param_name(name): _dimension(dim) for name, dim in search.params.items()}


@dataclass
class FitResult:
    """A fitted pipeline and how it was made."""

    pipeline: Pipeline
    params: dict[str, Any]
    fit_seconds: float
    search_seconds: float | None = None
    search_results: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def fit(spec: PipelineSpec, train: pd.DataFrame, y: pd.Series, *, seed: int = 0) -> FitResult:
    """Fit the spec's pipeline on ``train``; with a search space, the best one found.

    ``train`` must be in event-time order (as ``time_holdout`` returns it): the search
    validates with ``TimeSeriesSplit``.

    ``params`` are the estimator's effective spec params overlaid with the best found
    (without the ``model__`` prefix), ready for ``ModelTrained.params``.
    """
    inputs = feature_columns(spec, train)
    pipeline = build_pipeline(spec)
    params: dict[str, Any] = dict(spec.model.params)
    started = time.perf_counter()
    search = spec.model.search
    if search is None:
        pipeline.fit(inputs, y)
        return FitResult(pipeline, params, time.perf_counter() - started)
    searcher = HalvingRandomSearchCV(
        clone(pipeline),
        search_distributions(search),
        n_candidates=search.n_candidates,
        # The default ('smallest') starts from a dozen rows and, with few candidates, ends
        # long before the full data: 'exhaust' makes the last round use every train row.
        min_resources="exhaust",
        # Rows are in event-time order: each fold validates on data later than it trained
        # on, like the holdout (shuffled folds would leak the future into training).
        cv=TimeSeriesSplit(n_splits=search.cv),
        scoring=SEARCH_SCORING[spec.promotion.metric],
        random_state=seed,
        refit=True,
        n_jobs=1,  # the trainer has two cores: one for training, one for the service
        error_score=np.nan,
    )
    searcher.fit(inputs, y)
    seconds = time.perf_counter() - started
    for name, value in searcher.best_params_.items():
        params[name.removeprefix(f"{MODEL_STEP}__")] = _plain(value)
    return FitResult(
        pipeline=searcher.best_estimator_,
        params=params,
        fit_seconds=seconds,
        search_seconds=seconds,
        search_results={
            "best_score": float(searcher.best_score_),
            "n_candidates": len(searcher.cv_results_["params"]),
            "n_iterations": int(searcher.n_iterations_),
        },
    )
