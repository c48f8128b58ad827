"""Cost of one drift evaluation: Evidently's new API against the legacy one the monitor uses.

A 1,000-row window against a 5,000-row reference, 8 numeric + 2 categorical features and a
binary ``prediction`` column, the first four numeric features and one categorical shifted.

    uv run python bench/drift_bench.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = ["carrier", "origin"]
FEATURES = NUMERIC + CATEGORICAL


def frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {
        c: rng.normal(shift if i < 4 else 0.0, 1, n) for i, c in enumerate(NUMERIC)
    }
    data["carrier"] = rng.choice(
        ["AA", "DL", "UA"], n, p=[0.6, 0.3, 0.1] if not shift else [0.1, 0.3, 0.6]
    )
    data["origin"] = rng.choice(["EWR", "JFK", "LGA"], n)
    data["prediction"] = (data["n0"] + rng.normal(0, 1, n) > 0).astype(int).astype(str)
    return pd.DataFrame(data)


def new_api(with_count: bool) -> Callable[[pd.DataFrame, pd.DataFrame], Any]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount, ValueDrift

    definition = DataDefinition(
        numerical_columns=NUMERIC, categorical_columns=[*CATEGORICAL, "prediction"]
    )

    def run(current: pd.DataFrame, reference: pd.DataFrame) -> Any:
        metrics: list[Any] = [DriftedColumnsCount(columns=FEATURES)] if with_count else []
        metrics += [ValueDrift(column=c) for c in [*FEATURES, "prediction"]]
        snapshot = Report(metrics, include_tests=True).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        return snapshot.dict()

    return run


def monitor_detector() -> Callable[[pd.DataFrame, pd.DataFrame], Any]:
    from continuum.monitor.drift import DriftDetector
    from continuum.monitor.frames import FeatureLayout

    layout = FeatureLayout(
        numeric=tuple(NUMERIC), categorical=tuple(CATEGORICAL), task="binary_classification"
    )
    detector = DriftDetector()
    return lambda current, reference: detector.detect(layout, current, reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    reference, current = frame(5000, 0.0, seed=1), frame(1000, 1.0, seed=2)
    started = time.perf_counter()
    import evidently  # noqa: F401

    print(f"import evidently: {time.perf_counter() - started:.2f} s")
    candidates = {
        "new API: DriftedColumnsCount + ValueDrift x11, tests": new_api(with_count=True),
        "new API: ValueDrift x11, tests": new_api(with_count=False),
        "legacy DataDriftTable (the monitor's DriftDetector)": monitor_detector(),
    }
    for name, run in candidates.items():
        run(current, reference)  # warm-up
        times = []
        for _ in range(args.repeats):
            began = time.perf_counter()
            run(current, reference)
            times.append(time.perf_counter() - began)
        print(f"{name}: median {statistics.median(times):.3f} s, min {min(times):.3f} s")


if __name__ == "__main__":
    main()
