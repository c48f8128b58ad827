"""The rollout decision rule and state machine, on numbers and times alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from continuum.contracts import DeploymentPolicy, RolloutEvaluated
from continuum.registry.rollout_rules import (
    Verdict,
    decide,
    is_last_judged_step,
    judge,
    next_move,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CANARY = DeploymentPolicy(strategy="canary", steps=[0.1, 0.5, 1.0], min_labelled=100)


def _evaluated(**fields: Any) -> RolloutEvaluated:
    values: dict[str, Any] = {
        "pipeline": "churn",
        "rollout_id": "r-1",
        "step": 0,
        "candidate_version": 2,
        "champion_version": 1,
        "metric": "roc_auc",
        "candidate_value": 0.80,
        "champion_value": 0.80,
        "candidate_std_error": 0.02,
        "champion_std_error": 0.01,
        "candidate_rows": 300,
        "champion_rows": 2700,
        "candidate_error_rate": 0.0,
        "candidate_latency_ms": 1.0,
        "champion_latency_ms": 1.0,
    }
    return RolloutEvaluated.model_validate(values | fields)


def test_a_candidate_worse_beyond_noise_and_tolerance_is_refused() -> None:
    # noise = 2 * hypot(0.02, 0.01) = 0.0447: 0.75 trails 0.80 by 0.05, beyond it.
    verdict = judge(CANARY, "roc_auc", True, _evaluated(candidate_value=0.75))
    assert verdict.code == "metric_worse" and not verdict.passed
    assert "worse than champion v1's 0.8000" in verdict.reason
    assert "tolerance 0 + noise 0.0447" in verdict.reason
    # Within noise: passes. With a tolerance, a larger shortfall passes too.
    assert judge(CANARY, "roc_auc", True, _evaluated(candidate_value=0.76)).passed
    lenient = CANARY.model_copy(update={"tolerance": 0.02})
    assert judge(lenient, "roc_auc", True, _evaluated(candidate_value=0.75)).passed
    assert not judge(lenient, "roc_auc", True, _evaluated(candidate_value=0.73)).passed


def test_lower_is_better_metrics_are_judged_the_other_way() -> None:
    figures = {"metric": "rmse", "champion_value": 10.0, "candidate_std_error": 0.1}
    figures["champion_std_error"] = 0.1
    assert judge(CANARY, "rmse", False, _evaluated(**figures, candidate_value=9.0)).passed
    worse = judge(CANARY, "rmse", False, _evaluated(**figures, candidate_value=11.0))
    assert worse.code == "metric_worse"


def test_error_rate_and_latency_refuse_an_otherwise_good_candidate() -> None:
    errors = judge(CANARY, "roc_auc", True, _evaluated(candidate_error_rate=0.05))
    assert errors.code == "error_rate" and "5.00% > max_error_rate 1.00%" in errors.reason
    slow = judge(
        CANARY, "roc_auc", True, _evaluated(candidate_latency_ms=7.0, champion_latency_ms=2.0)
    )
    assert slow.code == "latency" and "3.5x" in slow.reason
    # 3.5x of a sub-millisecond call is under the floor: overhead, not a cost to judge.
    fast = _evaluated(candidate_latency_ms=0.7, champion_latency_ms=0.2)
    assert judge(CANARY, "roc_auc", True, fast).passed
    # No latency figure for the champion: latency is not judged.
    assert judge(CANARY, "roc_auc", True, _evaluated(champion_latency_ms=0.0)).passed


def test_too_few_rows_or_another_metric_is_inconclusive() -> None:
    few = judge(CANARY, "roc_auc", True, _evaluated(candidate_rows=50, candidate_value=0.1))
    assert few.code == "too_few_rows" and not few.conclusive
    other = judge(CANARY, "roc_auc", True, _evaluated(metric="accuracy"))
    assert other.code == "wrong_metric" and not other.conclusive


def test_the_last_step_below_all_traffic_completes() -> None:
    assert [is_last_judged_step(CANARY, s) for s in (0, 1)] == [False, True]
    shadow = DeploymentPolicy(strategy="shadow")
    assert is_last_judged_step(shadow, 0)


def test_a_passed_step_moves_on_after_min_seconds() -> None:
    policy = CANARY.model_copy(update={"min_seconds": 60})
    passed = Verdict("passed", "fine")
    assert next_move(policy, 0, T0, passed, T0 + timedelta(seconds=59)).move == "hold"
    assert next_move(policy, 0, T0, passed, T0 + timedelta(seconds=60)).move == "advance"
    assert next_move(policy, 1, T0, passed, T0 + timedelta(seconds=60)).move == "complete"
    assert next_move(policy, 0, T0, None, T0 + timedelta(days=1)).move == "hold"


def test_a_step_without_a_verdict_times_out() -> None:
    policy = CANARY.model_copy(update={"max_step_seconds": 300})
    assert next_move(policy, 0, T0, None, T0 + timedelta(seconds=299)).move == "hold"
    late = next_move(policy, 0, T0, None, T0 + timedelta(seconds=300))
    assert late.move == "roll_back" and "within max_step_seconds 300" in late.reason
    # A passing verdict waiting out min_seconds does not time out.
    passed = Verdict("passed", "fine")
    slow = policy.model_copy(update={"min_seconds": 600})
    assert next_move(slow, 0, T0, passed, T0 + timedelta(seconds=400)).move == "hold"


@pytest.mark.parametrize(
    ("fields", "move"),
    [
        ({"candidate_value": 0.6}, "roll_back"),
        ({"candidate_value": 0.81}, "advance"),
        ({"candidate_rows": 10}, "hold"),
        ({"candidate_error_rate": 0.5}, "roll_back"),
    ],
)
def test_decide_acts_on_the_verdict(fields: dict[str, Any], move: str) -> None:
    verdict, decision = decide(CANARY, "roc_auc", True, 0, T0, _evaluated(**fields), T0)
    assert decision.move == move
    if move == "roll_back":
        assert decision.reason == verdict.reason
