"""The prequential quality benchmark runs end to end on small synthetic streams."""

from __future__ import annotations

import json
from pathlib import Path

from bench.quality.__main__ import run_stream
from bench.quality.replay import Replay
from bench.quality.strategies import cost_aware, scheduled
from bench.quality.streams import synthetic


def test_schedules_charge_one_run_per_fit_and_serve_every_batch_after_the_cold_start() -> None:
    replay = Replay(synthetic("stationary", batches=8, batch_rows=600))
    start = replay.first_trainable()
    every = scheduled(replay, "every-batch", 1)
    once = scheduled(replay, "train-once", None)
    served = len(replay.batches) - start - 1
    assert len(every.per_batch) == len(once.per_batch) == served
    assert once.runs == 1
    assert every.runs == served  # the cold start plus one after each batch but the last


def test_after_an_abrupt_change_the_policy_retrains_and_beats_training_once() -> None:
    window = {"window_rows": 4_000, "min_rows": 1_000}
    replay = Replay(synthetic("abrupt", batches=16, batch_rows=800, training=window))
    once = scheduled(replay, "train-once", None)
    policy = cost_aware(replay, retrain_cost=0.1)
    assert policy.runs >= 2
    assert any("retrain cost" in d or "staleness" in d for d in policy.decisions)
    assert policy.pooled > once.pooled + 0.05


def test_on_a_stationary_stream_the_policy_trains_at_most_twice(tmp_path: Path) -> None:
    result = run_stream_small("stationary")
    policy = next(r for r in result["strategies"] if r["strategy"] == "continuum")
    assert policy["training_runs"] <= 2
    assert json.loads(json.dumps(result))["stream"] == "stationary"


def run_stream_small(name: str) -> dict[str, object]:
    import bench.quality.__main__ as bench

    original = bench.load
    bench.load = lambda n: synthetic(n, batches=14, batch_rows=800)  # type: ignore[assignment]
    try:
        return run_stream(name, 0.1)
    finally:
        bench.load = original
