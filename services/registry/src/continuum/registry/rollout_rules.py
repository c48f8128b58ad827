"""The rollout's decision rule and state machine: pure functions of numbers and times.

A step is judged on the monitor's :class:`RolloutEvaluated` (both arms on the same live
traffic). The candidate is rolled back when it is worse than the champion by more than
the spec's ``tolerance`` plus twice the combined standard error (the metric's direction is
honoured), when its error rate or its latency ratio is over the spec's bar, or when a step
got no verdict within ``max_step_seconds``. A step that passed moves on once it has lasted
``min_seconds``: to the next traffic share, or, from the last step below 1.0 (a shadow's
one step), to completion, where the candidate becomes the champion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from continuum.contracts import DeploymentPolicy, RolloutEvaluated

Move = Literal["hold", "advance", "complete", "roll_back"]
"""What to do with a live rollout: stay at its step, go to the next, promote, give up."""

VerdictCode = Literal[
    "passed", "metric_worse", "error_rate", "latency", "too_few_rows", "wrong_metric"
]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One step's judgement; ``reason`` is the sentence the audit log and the event carry."""

    code: VerdictCode
    reason: str

    @property
    def passed(self) -> bool:
        """The candidate is not worse than the champion beyond noise, errors or latency."""
        return self.code == "passed"

    @property
    def conclusive(self) -> bool:
        """A verdict to act on (``too_few_rows``/``wrong_metric`` are not: wait for more)."""
        return self.code not in ("too_few_rows", "wrong_metric")


@dataclass(frozen=True, slots=True)
class Decision:
    """The next move of a rollout and why."""

    move: Move
    reason: str = ""


def judge(
    policy: DeploymentPolicy, metric: str, higher_is_better: bool, evaluated: RolloutEvaluated
) -> Verdict:
    """Judge one step from both arms' figures (see the module docstring for the rule)."""
    if evaluated.metric != metric:
        return Verdict("wrong_metric", f"evaluated on {evaluated.metric}, the spec says {metric}")
    rows = min(evaluated.candidate_rows, evaluated.champion_rows)
    if rows < policy.min_labelled:
        return Verdict(
            "too_few_rows",
            f"{rows} labelled predictions in an arm, fewer than min_labelled {policy.min_labelled}",
        )
    candidate, champion = evaluated.candidate_value, evaluated.champion_value
    noise = 2 * math.hypot(evaluated.candidate_std_error, evaluated.champion_std_error)
    shortfall = champion - candidate if higher_is_better else candidate - champion
    if shortfall > policy.tolerance + noise:
        return Verdict(
            "metric_worse",
            f"candidate v{evaluated.candidate_version} {metric} {candidate:.4f}"
            f" ± {evaluated.candidate_std_error:.4f} is worse than champion"
            f" v{evaluated.champion_version}'s {champion:.4f} ± {evaluated.champion_std_error:.4f}"
            f" by {shortfall:.4f} > tolerance {policy.tolerance:g} + noise {noise:.4f}"
            f" ({evaluated.candidate_rows} vs {evaluated.champion_rows} labelled predictions)",
        )
    if evaluated.candidate_error_rate > policy.max_error_rate:
        return Verdict(
            "error_rate",
            f"candidate error rate {evaluated.candidate_error_rate:.2%}"
            f" > max_error_rate {policy.max_error_rate:.2%}",
        )
    slow_enough_to_matter = evaluated.candidate_latency_ms > policy.latency_floor_ms
    if evaluated.champion_latency_ms > 0 and slow_enough_to_matter:
        ratio = evaluated.candidate_latency_ms / evaluated.champion_latency_ms
        if ratio > policy.max_latency_ratio:
            return Verdict(
                "latency",
                f"candidate latency {evaluated.candidate_latency_ms:.3f} ms is {ratio:.1f}x the"
                f" champion's {evaluated.champion_latency_ms:.3f} ms"
                f" > max_latency_ratio {policy.max_latency_ratio:g}",
            )
    return Verdict(
        "passed",
        f"candidate {metric} {candidate:.4f} vs champion {champion:.4f}"
        f" (noise {noise:.4f}, tolerance {policy.tolerance:g}) on"
        f" {evaluated.candidate_rows}/{evaluated.champion_rows} labelled predictions;"
        f" error rate {evaluated.candidate_error_rate:.2%}",
    )


def is_last_judged_step(policy: DeploymentPolicy, step: int) -> bool:
    """Whether passing ``step`` completes the rollout (the next share would be 1.0)."""
    return step + 1 >= policy.step_count() - (1 if policy.strategy == "canary" else 0)


def next_move(
    policy: DeploymentPolicy,
    step: int,
    step_started_at: datetime,
    passed: Verdict | None,
    now: datetime,
) -> Decision:
    """Where a live rollout goes now, given the step's latest passing verdict (if any).

    A failing verdict is acted on at once by the caller; this decides on time: a step
    without a passing verdict past ``max_step_seconds`` is rolled back, and one with a
    passing verdict moves on once it has lasted ``min_seconds``.
    """
    held = (now - step_started_at).total_seconds()
    if passed is not None and passed.passed:
        if held < policy.min_seconds:
            return Decision(
                "hold", f"passed; held {held:.0f} of min_seconds {policy.min_seconds:g}"
            )
        move: Move = "complete" if is_last_judged_step(policy, step) else "advance"
        return Decision(move, passed.reason)
    if policy.max_step_seconds is not None and held >= policy.max_step_seconds:
        return Decision(
            "roll_back",
            f"no verdict on step {step} within max_step_seconds {policy.max_step_seconds:g}"
            f" ({held:.0f} s)",
        )
    return Decision("hold")


def decide(
    policy: DeploymentPolicy,
    metric: str,
    higher_is_better: bool,
    step: int,
    step_started_at: datetime,
    evaluated: RolloutEvaluated,
    now: datetime,
) -> tuple[Verdict, Decision]:
    """Judge an evaluation of the live step and decide: roll back on a failing verdict,
    otherwise as :func:`next_move` says (an inconclusive verdict changes nothing)."""
    verdict = judge(policy, metric, higher_is_better, evaluated)
    if not verdict.conclusive:
        return verdict, next_move(policy, step, step_started_at, None, now)
    if not verdict.passed:
        return verdict, Decision("roll_back", verdict.reason)
    return verdict, next_move(policy, step, step_started_at, verdict, now)
