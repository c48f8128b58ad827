"""The promotion gate: does a candidate replace the champion? A pure function of numbers.

The numbers are the registry's own (:class:`Measured`): it scores the candidate and the
current champion on the candidate's holdout itself, so the gate compares like with like
and never takes a run's word for a score. The metric's direction is honoured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from continuum.contracts import HIGHER_IS_BETTER, GateDecision, PipelineSpec

GateCode = Literal[
    "no_champion",
    "improved",
    "not_improved",
    "below_floor",
    "metric_missing",
    "load_failed",
    "not_scored",
    "slice_regression",
]
"""Short reason codes (the ``reason`` label of the gate metric). ``not_scored``: the
registry could not score the candidate itself (no holdout, unreadable, too slow).
``slice_regression``: better overall, but worse than the champion on a slice of the
holdout by more than ``promotion.max_slice_regression``."""


@dataclass(frozen=True, slots=True)
class SliceScores:
    """Both models' metrics on one slice of the holdout (``name`` is ``feature=value``)."""

    name: str
    rows: int
    candidate: dict[str, float]
    champion: dict[str, float]


@dataclass(frozen=True, slots=True)
class Measured:
    """What the registry measured itself on the candidate's holdout.

    ``champion`` is ``None`` when there is no champion or it could not be scored on this
    holdout (``champion_error`` says why). ``rows`` were scored out of ``holdout_rows``
    (fewer when the holdout was larger than the registry's bound).
    """

    candidate: dict[str, float]
    rows: int
    holdout_rows: int
    champion: dict[str, float] | None = None
    champion_error: str | None = None
    slices: tuple[SliceScores, ...] = ()
    """Every slice of the holdout (the spec's ``evaluation:``), when the champion was scored."""

    @property
    def sampled(self) -> bool:
        """Whether only a sample of the holdout was scored."""
        return self.rows < self.holdout_rows


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
    spec: PipelineSpec,
    measured: Measured,
    champion_version: int | None,
    champion_fallback_metrics: dict[str, float] | None = None,
    notes: Sequence[str] = (),
) -> GateResult:
    """Apply ``spec.promotion`` to a candidate the registry loaded and scored.

    ``champion_version`` is the champion now; ``champion_fallback_metrics`` are its stored
    metrics, used only when it could not be scored on this holdout. ``notes`` (claims
    that did not match, a changed champion) end the reason.
    """
    policy = spec.promotion
    metric = policy.metric
    higher = HIGHER_IS_BETTER[metric]
    extra = list(notes)
    if measured.sampled:
        extra.insert(0, f"scored on {measured.rows} of {measured.holdout_rows} holdout rows")

    def suffix() -> str:
        return f"; {'; '.join(extra)}" if extra else ""

    candidate = measured.candidate.get(metric)
    if candidate is None:
        return rejected("metric_missing", f"candidate has no {metric} score{suffix()}")
    if policy.floor is not None and (
        candidate < policy.floor if higher else candidate > policy.floor
    ):
        bound = "below" if higher else "above"
        return rejected(
            "below_floor",
            f"{metric}={candidate:.6g} is {bound} the floor {policy.floor:g}{suffix()}",
        )
    if champion_version is None:
        return GateResult(
            "promoted",
            "no_champion",
            f"first model: {metric}={candidate:.6g}, no champion yet{suffix()}",
        )

    baseline = (measured.champion or {}).get(metric)
    if baseline is None:
        baseline = (champion_fallback_metrics or {}).get(metric)
        why = f" ({measured.champion_error})" if measured.champion_error else ""
        if baseline is None:
            return rejected(
                "metric_missing",
                f"no {metric} score of champion v{champion_version} to compare{why}{suffix()}",
            )
        extra.append(
            f"champion v{champion_version} could not be scored on this holdout{why}: "
            "compared with its stored score, not the same holdout"
        )
    gain = candidate - baseline if higher else baseline - candidate
    comparison = (
        f"{metric}={candidate:.6g} vs champion {baseline:.6g} "
        f"({'+' if gain >= 0 else ''}{gain:.6g}, needs >= {policy.min_improvement:g}"
        f"{' and > 0' if policy.min_improvement == 0 else ''})"
    )
    # A tie is not an improvement: min_improvement 0 still needs a strictly better score.
    improved = gain >= policy.min_improvement and gain > 0
    if not improved:
        return rejected("not_improved", f"not improved: {comparison}{suffix()}")
    if policy.max_slice_regression is not None:
        if measured.champion is None:
            extra.append("slices not checked: the champion was not scored on this holdout")
        elif regressed := worst_slice(measured.slices, metric, policy.max_slice_regression):
            return rejected("slice_regression", f"{regressed}; overall {comparison}{suffix()}")
    strategy = spec.deployment.strategy
    if strategy != "direct":
        # Better on the holdout; live traffic has the last word before it replaces the champion.
        reason = f"improved: {comparison}; rolling out by {strategy}{suffix()}"
        return GateResult("rollout", "improved", reason)
    return GateResult("promoted", "improved", f"improved: {comparison}{suffix()}")


def worst_slice(slices: Sequence[SliceScores], metric: str, allowed: float) -> str | None:
    """The slice where the candidate trails the champion most, if by more than ``allowed``.

    Returned as the reason's sentence, e.g. ``slice origin=JFK: roc_auc 0.61 vs champion
    0.70 (-0.09, more than 0.05 worse)``.
    """
    higher = HIGHER_IS_BETTER[metric]
    worst: tuple[float, SliceScores, float, float] | None = None
    for item in slices:
        mine, theirs = item.candidate.get(metric), item.champion.get(metric)
        if mine is None or theirs is None:
            continue
        loss = theirs - mine if higher else mine - theirs
        if worst is None or loss > worst[0]:
            worst = (loss, item, mine, theirs)
    if worst is None or worst[0] <= allowed:
        return None
    loss, item, mine, theirs = worst
    return (
        f"slice {item.name} ({item.rows} rows): {metric} {mine:.4g} vs champion {theirs:.4g} "
        f"({-loss:+.4g}, more than {allowed:g} worse)"
    )
