"""The gate decides on figures the registry computed itself, never on the event's claims.

The app runs in memory (``TestKafkaBroker``, SQLite, memory:// artifacts) with the real
scorer and gate; models are real and of known quality on the stored holdout.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from registry_testkit import ArtifactMaker, Harness, registry_settings, running

from continuum.contracts import ModelArtifacts, PipelineSpec
from continuum.contracts.topics import MODELS_PROMOTED
from continuum.registry.candidate_check import ArtifactCandidateScorer, ChampionModel
from continuum.registry.gate import Measured
from continuum.storage import ObjectStore

MISMATCHES = "continuum_registry_metric_claim_mismatches_total"


async def _with_good_champion(harness: Harness, spec_yaml: str, trained: Any, make: Any) -> None:
    await harness.registry.apply_spec("churn", spec_yaml)
    good = make.metrics("good")["roc_auc"]
    await harness.train(trained("run-1", good, artifacts=make("run-1", "good")))
    champion = await harness.registry.get_champion("churn")
    assert champion is not None and champion.version == 1


async def test_inflated_metrics_for_a_stored_artifact_are_not_promoted(
    harness: Harness, spec_yaml: str, trained: Any, make_artifacts: ArtifactMaker
) -> None:
    await _with_good_champion(harness, spec_yaml, trained, make_artifacts)
    fair = make_artifacts.metrics("fair")["roc_auc"]
    # A real, weaker run is stored and honestly rejected...
    stored = make_artifacts("run-2", "fair")
    await harness.train(
        trained("run-2", fair, artifacts=stored, champion_version=1, champion_auc=1.0)
    )
    assert harness.sample(MISMATCHES, {"pipeline": "churn"}) == 0
    # ...then a forged event names its artifacts under a new run id, with inflated figures.
    forged = trained("forged", 0.999, artifacts=stored, champion_version=1, champion_auc=0.5)
    await harness.train(forged)

    v3 = await harness.registry.get_model("churn", 3)
    assert v3 is not None and v3.run_id == "forged"
    assert (v3.decision, v3.is_champion) == ("rejected", False)
    assert v3.decision_reason.startswith(f"not improved: roc_auc={fair:.6g} vs champion 1 ")
    assert f"the run claimed roc_auc=0.999, the registry measured {fair:.6g}" in v3.decision_reason
    assert "claimed champion roc_auc=0.5, the registry measured 1" in v3.decision_reason
    # The version carries the registry's figures, not the event's.
    assert v3.metrics == make_artifacts.metrics("fair")
    assert v3.champion_metrics == make_artifacts.metrics("good")
    champion = await harness.registry.get_champion("churn")
    assert champion is not None and champion.version == 1
    assert len(harness.published[MODELS_PROMOTED]) == 1
    assert harness.sample(MISMATCHES, {"pipeline": "churn"}) == 1
    audit = await harness.registry.audit("churn")
    registered = next(e for e in audit if e.action == "version_registered" and e.version == 3)
    assert registered.detail["metrics"] == make_artifacts.metrics("fair")


async def test_the_champions_own_artifacts_with_inflated_claims_tie(
    harness: Harness, spec_yaml: str, trained: Any, make_artifacts: ArtifactMaker
) -> None:
    await _with_good_champion(harness, spec_yaml, trained, make_artifacts)
    champion = await harness.registry.get_champion("churn")
    assert champion is not None
    await harness.train(
        trained("copy", 1.5, artifacts=champion.artifacts, champion_version=1, champion_auc=0.1)
    )
    v2 = await harness.registry.get_model("churn", 2)
    assert v2 is not None and v2.decision == "rejected"
    assert v2.decision_reason.startswith("not improved: roc_auc=1 vs champion 1 (+0")


async def test_a_run_without_a_holdout_is_not_scored_nor_promoted(
    harness: Harness, spec_yaml: str, trained: Any, make_artifacts: ArtifactMaker
) -> None:
    await harness.registry.apply_spec("churn", spec_yaml)
    bare = make_artifacts("run-1").model_copy(update={"holdout": None})
    await harness.train(trained("run-1", 0.99, artifacts=bare))
    v1 = await harness.registry.get_model("churn", 1)
    assert v1 is not None and (v1.decision, v1.metrics) == ("rejected", {})
    assert "the run stored no holdout" in v1.decision_reason
    assert harness.sample(
        "continuum_registry_gate_decisions_total",
        {"pipeline": "churn", "decision": "rejected", "reason": "not_scored"},
    )


async def test_a_large_holdout_is_sampled_the_same_way_every_time(
    spec: PipelineSpec, make_artifacts: ArtifactMaker, artifact_store: ObjectStore
) -> None:
    scorer = ArtifactCandidateScorer(artifact_store, max_rows=120)
    candidate = make_artifacts("run-2", "fair")
    champion = ChampionModel(1, make_artifacts("run-1", "good"), spec)
    first = scorer(candidate, spec, champion)
    assert (first.rows, first.holdout_rows, first.sampled) == (120, 200, True)
    assert first.champion is not None and first.champion_error is None
    # Same rows, same figures: a redelivered event gets the same decision.
    assert scorer(candidate, spec, champion) == first
    full = ArtifactCandidateScorer(artifact_store)(candidate, spec, champion)
    assert full.candidate == make_artifacts.metrics("fair") and not full.sampled


async def test_scoring_past_the_time_limit_rejects(
    tmp_path: Path,
    artifact_store: ObjectStore,
    spec_yaml: str,
    trained: Any,
    make_artifacts: ArtifactMaker,
) -> None:
    def slow(artifacts: ModelArtifacts, spec: PipelineSpec, champion: Any) -> Measured:
        time.sleep(0.5)
        return Measured({"roc_auc": 0.99}, 1, 1)

    settings = registry_settings(tmp_path, artifact_store, score_timeout_seconds=0.05)
    async with running(settings, scorer=slow) as harness:
        await harness.registry.apply_spec("churn", spec_yaml)
        await harness.train(trained("run-1", 0.99, artifacts=make_artifacts("run-1")))
        v1 = await harness.registry.get_model("churn", 1)
        assert v1 is not None and v1.decision == "rejected"
        assert "scoring took longer than 0.05 s" in v1.decision_reason
