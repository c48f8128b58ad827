"""The promotion gate as a pure function of the event, the policy and the champion."""

from __future__ import annotations

from typing import Any

from continuum.contracts import PipelineSpec
from continuum.registry.gate import decide


def test_first_model_promotes_when_it_passes_the_floor(spec: PipelineSpec, trained: Any) -> None:
    result = decide(trained("r", 0.65), spec, champion_version=None)
    assert (result.decision, result.code) == ("promoted", "no_champion")
    result = decide(trained("r", 0.55), spec, champion_version=None)
    assert (result.decision, result.code) == ("rejected", "below_floor")
    assert "floor 0.6" in result.reason


def test_improvement_must_reach_min_improvement(spec: PipelineSpec, trained: Any) -> None:
    better = decide(trained("r", 0.82, champion_version=1, champion_auc=0.80), spec, 1)
    assert (better.decision, better.code) == ("promoted", "improved")
    slightly = decide(trained("r", 0.805, champion_version=1, champion_auc=0.80), spec, 1)
    assert (slightly.decision, slightly.code) == ("rejected", "not_improved")
    assert "vs champion 0.8" in slightly.reason


def test_lower_is_better_metrics_and_ties(spec: PipelineSpec, trained: Any) -> None:
    policy = spec.promotion.model_copy(
        update={"metric": "log_loss", "floor": 0.9, "min_improvement": 0.0}
    )
    log_loss_spec = spec.model_copy(update={"promotion": policy})

    def event(candidate: float, champion: float) -> Any:
        base = trained("r", None, champion_version=1)
        return base.model_copy(
            update={"metrics": {"log_loss": candidate}, "champion_metrics": {"log_loss": champion}}
        )

    assert decide(event(0.40, 0.45), log_loss_spec, 1).decision == "promoted"
    assert decide(event(0.50, 0.45), log_loss_spec, 1).decision == "rejected"
    # A tie is not an improvement, even with min_improvement 0.
    assert decide(event(0.45, 0.45), log_loss_spec, 1).code == "not_improved"
    assert decide(event(0.95, 0.99), log_loss_spec, 1).code == "below_floor"


def test_champion_changed_since_training_is_said(spec: PipelineSpec, trained: Any) -> None:
    result = decide(trained("r", 0.9, champion_version=1, champion_auc=0.8), spec, 2)
    assert result.decision == "promoted"
    assert "champion changed since training" in result.reason and "now v2" in result.reason


def test_missing_scores_reject_or_fall_back(spec: PipelineSpec, trained: Any) -> None:
    assert decide(trained("r", None), spec, None).code == "metric_missing"
    # No champion score in the event: fall back to the champion's own, and say so.
    result = decide(trained("r", 0.9, champion_version=None), spec, 1, {"roc_auc": 0.85})
    assert result.decision == "promoted" and "not the same holdout" in result.reason
    assert decide(trained("r", 0.9), spec, 1, {}).code == "metric_missing"
