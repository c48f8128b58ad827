"""The promotion gate as a pure function of the registry's own scores, and the claim check."""

from __future__ import annotations

from typing import Any

from continuum.contracts import PipelineSpec
from continuum.registry.claims import check_claims
from continuum.registry.gate import Measured, decide


def scored(candidate: float | None, champion: float | None = None, **kw: Any) -> Measured:
    """What the registry measured, on roc_auc, over 100 holdout rows."""
    return Measured(
        candidate={} if candidate is None else {"roc_auc": candidate, "accuracy": 0.7},
        champion=None if champion is None else {"roc_auc": champion},
        rows=kw.pop("rows", 100),
        holdout_rows=kw.pop("holdout_rows", 100),
        **kw,
    )


def test_first_model_promotes_when_it_passes_the_floor(spec: PipelineSpec) -> None:
    result = decide(spec, scored(0.65), champion_version=None)
    assert (result.decision, result.code) == ("promoted", "no_champion")
    result = decide(spec, scored(0.55), champion_version=None)
    assert (result.decision, result.code) == ("rejected", "below_floor")
    assert "floor 0.6" in result.reason


def test_improvement_must_reach_min_improvement(spec: PipelineSpec) -> None:
    better = decide(spec, scored(0.82, 0.80), 1)
    assert (better.decision, better.code) == ("promoted", "improved")
    slightly = decide(spec, scored(0.805, 0.80), 1)
    assert (slightly.decision, slightly.code) == ("rejected", "not_improved")
    assert "vs champion 0.8" in slightly.reason


def test_lower_is_better_metrics_and_ties(spec: PipelineSpec) -> None:
    policy = spec.promotion.model_copy(
        update={"metric": "log_loss", "floor": 0.9, "min_improvement": 0.0}
    )
    log_loss_spec = spec.model_copy(update={"promotion": policy})

    def measured(candidate: float, champion: float) -> Measured:
        return Measured({"log_loss": candidate}, 100, 100, champion={"log_loss": champion})

    assert decide(log_loss_spec, measured(0.40, 0.45), 1).decision == "promoted"
    assert decide(log_loss_spec, measured(0.50, 0.45), 1).decision == "rejected"
    # A tie is not an improvement, even with min_improvement 0.
    assert decide(log_loss_spec, measured(0.45, 0.45), 1).code == "not_improved"
    assert decide(log_loss_spec, measured(0.95, 0.99), 1).code == "below_floor"


def test_missing_scores_reject_or_fall_back(spec: PipelineSpec) -> None:
    assert decide(spec, scored(None), None).code == "metric_missing"
    # The champion could not be scored on this holdout: its stored score, and say so.
    unscored = scored(0.9, champion_error="IntegrityError: tampered")
    result = decide(spec, unscored, 1, {"roc_auc": 0.85})
    assert result.decision == "promoted" and "not the same holdout" in result.reason
    assert "IntegrityError: tampered" in result.reason
    assert decide(spec, scored(0.9), 1, {}).code == "metric_missing"


def test_notes_and_sampling_end_the_reason(spec: PipelineSpec) -> None:
    result = decide(spec, scored(0.9, 0.8, rows=50, holdout_rows=80), 1, notes=["a note"])
    assert result.reason.endswith("; scored on 50 of 80 holdout rows; a note")


def test_claims_that_do_not_match_are_noted(spec: PipelineSpec, trained: Any) -> None:
    honest = trained("r", 0.8 + 1e-9, champion_version=1, champion_auc=0.7)
    assert check_claims(honest, scored(0.8, 0.7), "roc_auc", 1).mismatches == 0  # float noise

    inflated = trained("r", 0.999, champion_version=1, champion_auc=0.5)
    check = check_claims(inflated, scored(0.8, 0.7), "roc_auc", 1)
    assert check.mismatches == 2
    assert check.notes == [
        "the run claimed roc_auc=0.999, the registry measured 0.8",
        "the run claimed champion roc_auc=0.5, the registry measured 0.7",
    ]
    # A sample gives other figures anyway: not compared. A changed champion is said.
    sampled = check_claims(inflated, scored(0.8, 0.7, rows=50, holdout_rows=80), "roc_auc", 2)
    assert sampled.mismatches == 0
    assert sampled.notes == [
        "the champion changed since training (the run compared with v1, the gate with v2)"
    ]
    # The champion's claim is about another champion then: only the candidate's is checked.
    moved = check_claims(inflated, scored(0.8, 0.7), "roc_auc", 2)
    assert moved.mismatches == 1
