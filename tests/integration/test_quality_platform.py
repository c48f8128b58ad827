"""The quality benchmark's platform mode: a drifting stream through Kafka and five services.

A short abrupt-drift stream is replayed prequentially through a real stack (its own Kafka,
the five services as processes): serving predicts each batch, the monitor measures the
champion's live quality from the logged predictions and the delayed labels, and the
trainer's cost-aware policy decides. The platform must keep the first model while the
concept holds, retrain on quality (not on the input drift that the monitor also reports)
once it breaks, and decide like the policy's in-process replay of the same batches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.quality.platform import PlatformOptions, run_on_platform
from bench.quality.replay import Replay
from bench.quality.strategies import cost_aware
from bench.quality.streams import synthetic

pytestmark = pytest.mark.integration

BATCHES, CHANGE = 10, 5
"""The concept changes at batch 5 (0-based) of 10."""


def test_the_platform_retrains_on_quality_after_the_concept_changes(tmp_path: Path) -> None:
    # The first model already sees a full window: no growth retrain before the change.
    window = {"window_rows": 1_500, "min_rows": 1_500}
    stream = synthetic("abrupt", batches=BATCHES, batch_rows=500, training=window)
    ran = run_on_platform(stream, PlatformOptions(home=tmp_path / "stack"), progress=print)
    replay = Replay(stream)
    in_process = cost_aware(replay, retrain_cost=0.1)
    first = replay.first_trainable()  # the cold start follows this batch

    triggers = [run["trigger"] for run in ran.runs]
    assert triggers[0] == "cold_start", ran.runs
    assert len(triggers) >= 2 and set(triggers[1:]) == {"quality"}, ran.runs
    assert all(run["status"] == "succeeded" for run in ran.runs), ran.runs

    # served_versions[i] served batch first + 1 + i: the first model until the change.
    assert len(ran.served_versions) == BATCHES - 1 - first
    unchanged = CHANGE - first
    assert ran.served_versions[:unchanged] == [1] * unchanged, ran.served_versions
    assert ran.served_versions[-1] > 1, ran.served_versions

    # Same batches scored as the in-process replay, and the same decisions within one run.
    assert len(ran.outcome.per_batch) == len(in_process.per_batch)
    assert abs(ran.outcome.runs - in_process.runs) <= 1, (ran.outcome.decisions, in_process)
