"""Prequential quality benchmark: Continuum's retraining policy against the usual schedules.

Each stream is replayed batch by batch (predict with the served model, then deliver the
labels) for four strategies: train once, retrain after every batch, retrain after every
5th batch, and Continuum's cost-aware policy (with the platform's promotion gate). It
prints, per stream, the pooled metric, the share of the train-once-to-every-batch gap
closed and the number of training runs, and writes a JSON file and a PNG of the metric per
batch.

    uv run python -m bench.quality [--streams flights stationary abrupt gradual]
        [--retrain-cost 0.1] [--out bench/quality/results] [--platform]

Training is ``continuum.modelkit`` (the trainer's window, time holdout and fit) and the
decisions are ``continuum.modelkit.retrain_policy`` (the trainer's policy), replayed in
one process so the four strategies see identical batches and share identical fits.

``--platform`` also replays each stream through the running platform (a local Kafka and
the five services, started and stopped by the benchmark; see ``bench.quality.platform``)
and adds its row, ``continuum (platform)``: serving's logged predictions, the monitor's
live quality, the trainer's decisions and the registry's gate, end to end.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from bench.quality.platform import PlatformOptions, run_on_platform
from bench.quality.replay import Replay
from bench.quality.strategies import Outcome, cost_aware, scheduled
from bench.quality.streams import SYNTHETIC, load

STREAMS = ("flights", *SYNTHETIC)


def run_stream(name: str, retrain_cost: float, platform: bool = False) -> dict[str, Any]:
    """Replay one stream for the four strategies (and on the platform); the figures."""
    started = time.perf_counter()
    stream = load(name)
    replay = Replay(stream)
    replay.on_fit = lambda batch: print(f"  {name}: fitted after batch {batch}", end="\r")
    outcomes: list[Outcome] = [
        scheduled(replay, "train-once", None),
        scheduled(replay, "every-batch", 1),
        scheduled(replay, "every-5th-batch", 5),
        cost_aware(replay, retrain_cost),
    ]
    if platform:
        ran = run_on_platform(stream, PlatformOptions(retrain_cost=retrain_cost))
        print(f"  {name}: platform replay took {ran.seconds:.0f} s")
        outcomes.append(ran.outcome)
    static, every = outcomes[0].pooled, outcomes[1].pooled
    rows = []
    for outcome in outcomes:
        gap = (outcome.pooled - static) / (every - static) if every != static else math.nan
        rows.append(
            {
                "strategy": outcome.name,
                "pooled_metric": round(outcome.pooled, 4),
                "gap_closed": round(gap, 3),
                "training_runs": outcome.runs,
                "runs_vs_every_batch": round(outcome.runs / outcomes[1].runs, 3),
                "promoted": outcome.promoted,
                "per_batch": [round(v, 4) for v in outcome.per_batch],
                "decisions": outcome.decisions,
            }
        )
    return {
        "stream": name,
        "rows": len(stream.frame),
        "batches": len(replay.batches),
        "batch_rows": stream.batch_rows,
        "window_rows": stream.spec.training.window_rows,
        "estimator": stream.spec.model.estimator,
        "metric": stream.spec.promotion.metric,
        "retrain_cost": retrain_cost,
        "seconds": round(time.perf_counter() - started, 1),
        "strategies": rows,
    }


def print_table(results: list[dict[str, Any]]) -> None:
    """The side-by-side table (Markdown)."""
    print("| stream | strategy | pooled metric | gap closed | training runs |")
    print("|---|---|---|---|---|")
    for result in results:
        for row in result["strategies"]:
            print(
                f"| {result['stream']} | {row['strategy']} | {row['pooled_metric']:.4f} "
                f"| {row['gap_closed']:.0%} | {row['training_runs']} "
                f"({row['runs_vs_every_batch']:.0%}) |"
            )


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """The metric per batch for the four strategies, one panel per stream (5-batch mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(len(results), 1, figsize=(11, 3.2 * len(results)), squeeze=False)
    for ax, result in zip(axes[:, 0], results, strict=True):
        for row in result["strategies"]:
            values = np.array(row["per_batch"], dtype=float)
            filled = np.nan_to_num(values, nan=float(np.nanmean(values)))
            smooth = np.convolve(filled, np.ones(5) / 5, "valid")
            label = f"{row['strategy']} ({row['training_runs']} runs, {row['pooled_metric']:.3f})"
            ax.plot(np.arange(len(smooth)) + 3, smooth, label=label, linewidth=1.4)
        ax.set_title(f"{result['stream']}: {result['metric']} per batch (5-batch mean)")
        ax.set_xlabel("batch")
        ax.legend(fontsize=8, loc="lower left")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--streams", nargs="+", default=list(STREAMS), choices=STREAMS)
    parser.add_argument("--retrain-cost", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=Path("bench/quality/results"))
    parser.add_argument(
        "--platform",
        action="store_true",
        help="also replay through a local Kafka and the five services (minutes per stream)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    # One thread, as the trainer's worker trains (OpenMP on 2 cores is slower here).
    with threadpool_limits(limits=1):
        for name in args.streams:
            print(f"replaying {name} ...", flush=True)
            result = run_stream(name, args.retrain_cost, args.platform)
            print(f"  {name}: {result['batches']} batches in {result['seconds']} s" + " " * 20)
            results.append(result)
    print_table(results)
    (args.out / "quality.json").write_text(json.dumps(results, indent=1))
    plot(results, args.out / "quality.png")
    print(f"wrote {args.out / 'quality.json'} and {args.out / 'quality.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
