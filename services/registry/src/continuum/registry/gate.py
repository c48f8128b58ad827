"""The promotion gate: does a candidate replace the champion? A pure function of numbers.

The trainer scores the candidate and the champion on the same holdout, so the gate
compares like with like (``event.champion_metrics``), honouring the metric's direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from continuum.contracts import HIGHER_IS_BETTER, GateDecision, ModelTrained, PipelineSpec

GateCode = Literal[
    "no_champion",
    "improved",
    "not_improved",
    "below_floor",
    "metric_missing",
    "load_failed",
]
"""Short reason codes (the ``reason`` label of the gate metric)."""


@dataclass(frozen=True, slots=True)
class GateResult:
    """The decision, a short code for metrics and a sentence for people."""

    decision: GateDecision
    code: GateCode
    reason: str

    @property
    def promote(self) -> bool:
        """Whether the candidate becomes the champion."""
        return self.decision == "promoted"


def rejected(code: GateCode, reason: str) -> GateResult:
    """A rejection with its code and reason."""
    return GateResult("rejected", code, reason)


def decide(
    event: ModelTrained,
    spec: PipelineSpec,
    champion_version: int | None,
    champion_fallback_metrics: dict[str, float] | None = None,
) -> GateResult:
    """Apply ``spec.promotion`` to a candidate that loaded and predicted fine.

    ``champion_version`` is the champion now; ``champion_fallback_metrics`` are its own
    stored metrics, used only when the event carries no champion score on this metric.
    """
    policy = spec.promotion
    metric = policy.metric
    higher = HIGHER_IS_BETTER[metric]
    candidate = event.metrics.get(metric)
    if candidate is None:
        return rejected("metric_missing", f"candidate has no {metric} score")
    if policy.floor is not None and (
        candidate < policy.floor if higher else candidate > policy.floor
    ):
        bound = "below" if higher else "above"
        return rejected(
            "below_floor", f"{metric}={candidate:.6g} is {bound} the floor {policy.floor:g}"
        )
    if champion_version is None:
        return GateResult(
            "promoted", "no_champion", f"first model: {metric}={candidate:.6g}, no champion yet"
        )

    notes: list[str] = []
    baseline = event.champion_metrics.get(metric)
    if event.champion_version != champion_version:
        notes.append(
            f"the champion changed since training (scored against v{event.champion_version}, "
            f"now v{champion_version})"
        )
    if baseline is None:
        baseline = (champion_fallback_metrics or {}).get(metric)
        if baseline is None:
            return rejected(
                "metric_missing", f"no {metric} score of champion v{champion_version} to compare"
            )
        notes.append("compared with the champion's own holdout score, not the same holdout")
    gain = candidate - baseline if higher else baseline - candidate
    comparison = (
        f"{metric}={candidate:.6g} vs champion {baseline:.6g} "
        f"({'+' if gain >= 0 else ''}{gain:.6g}, needs >= {policy.min_improvement:g}"
        f"{' and > 0' if policy.min_improvement == 0 else ''})"
    )
    suffix = f"; {'; '.join(notes)}" if notes else ""
    # A tie is not an improvement: min_improvement 0 still needs a strictly better score.
    improved = gain >= policy.min_improvement and gain > 0
    if improved:
        return GateResult("promoted", "improved", f"improved: {comparison}{suffix}")
    return rejected("not_improved", f"not improved: {comparison}{suffix}")
