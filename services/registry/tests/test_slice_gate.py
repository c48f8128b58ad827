"""The gate refuses a candidate that is better overall but regresses a slice of the holdout.

Real models on a holdout where the plan=pro customers churn by another rule than the
basic ones: the champion knows the pro rule and guesses on basic; the candidate knows the
basic rule and has the pro rule backwards. The candidate wins overall (basic is three
quarters of the rows) and loses badly on plan=pro, which the registry finds by slicing
the stored holdout itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from registry_testkit import Harness

from continuum.contracts import ModelArtifacts, PipelineSpec, parse_spec_yaml
from continuum.modelkit import (
    build_pipeline,
    build_reference_sample,
    dump_model,
    feature_columns,
    frame_to_parquet,
    target_values,
)
from continuum.registry.gate import Measured, SliceScores, decide
from continuum.storage import ObjectStore

SLICED_SPEC = """
name: churn
source_topic: churn.records
task: binary_classification
schema:
  features:
    - {name: tenure, type: numeric, min: 0}
    - {name: plan, type: categorical, values: [basic, pro]}
  target: {name: churned}
  event_time: ts
model:
  estimator: RandomForestClassifier
  params: {n_estimators: 20, random_state: 0}
promotion:
  metric: roc_auc
  max_slice_regression: 0.05
evaluation: {slice_min_rows: 50, slice_bins: 2}
"""

Rule = str  # "truth", "champion" or "candidate"


def _rows(n: int, seed: int, rule: Rule) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.uniform(0, 40, n)
    pro = np.arange(n) % 4 == 0
    truth = np.where(pro, tenure < 25, tenure < 15)
    if rule == "champion":  # right on pro, a coin flip on basic
        label = np.where(pro, truth, rng.random(n) < 0.5)
    elif rule == "candidate":  # right on basic, the pro rule backwards
        label = np.where(pro, ~truth, truth)
    else:
        label = truth
    return pd.DataFrame(
        {
            "tenure": tenure,
            "plan": np.where(pro, "pro", "basic"),
            "churned": label.astype(int),
            "ts": [f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z" for i in range(n)],
        }
    )


def _store(spec: PipelineSpec, store: ObjectStore, run_id: str, rule: Rule) -> ModelArtifacts:
    train = _rows(800, 1, rule)
    pipeline = build_pipeline(spec).fit(feature_columns(spec, train), target_values(spec, train))
    sample = build_reference_sample(spec, pipeline, feature_columns(spec, train))
    holdout = _rows(400, 2, "truth")
    return ModelArtifacts(
        model=store.put(f"{run_id}/model.skops", dump_model(pipeline)),
        reference_sample=store.put(f"{run_id}/reference.parquet", frame_to_parquet(sample)),
        model_card=store.put(f"{run_id}/model_card.json", b"{}"),
        holdout=store.put(f"{run_id}/holdout.parquet", frame_to_parquet(holdout)),
    )


async def test_a_slice_regression_refuses_a_candidate_better_overall(
    harness: Harness, artifact_store: ObjectStore, trained: Any
) -> None:
    spec = parse_spec_yaml(SLICED_SPEC)
    await harness.registry.apply_spec("churn", SLICED_SPEC)
    champion = _store(spec, artifact_store, "run-1", "champion")
    await harness.train(trained("run-1", None, artifacts=champion))
    assert (await harness.registry.get_champion("churn")) is not None

    candidate = _store(spec, artifact_store, "run-2", "candidate")
    await harness.train(trained("run-2", None, artifacts=candidate, champion_version=1))
    v2 = await harness.registry.get_model("churn", 2)
    assert v2 is not None and (v2.decision, v2.is_champion) == ("rejected", False)
    assert v2.metrics["roc_auc"] > v2.champion_metrics["roc_auc"]  # better overall...
    assert v2.decision_reason.startswith("slice plan=pro (")  # ...but not for pro customers
    assert "more than 0.05 worse" in v2.decision_reason
    assert "; overall roc_auc=" in v2.decision_reason
    decisions = {"pipeline": "churn", "decision": "rejected", "reason": "slice_regression"}
    assert harness.sample("continuum_registry_gate_decisions_total", decisions) == 1

    # Without the slice policy the same candidate is promoted: the slice is what refused it.
    lenient = SLICED_SPEC.replace("  max_slice_regression: 0.05\n", "")
    await harness.registry.apply_spec("churn", lenient)
    await harness.train(trained("run-3", None, artifacts=candidate, champion_version=1))
    v3 = await harness.registry.get_model("churn", 3)
    assert v3 is not None and v3.decision == "promoted", v3.decision_reason


def _measured(slices: tuple[SliceScores, ...], champion: bool = True) -> Measured:
    return Measured(
        candidate={"roc_auc": 0.8},
        champion={"roc_auc": 0.75} if champion else None,
        rows=400,
        holdout_rows=400,
        slices=slices,
    )


def test_the_gate_names_the_worst_slice_and_honours_the_allowance() -> None:
    spec = parse_spec_yaml(SLICED_SPEC)
    jfk = SliceScores("origin=JFK", 120, {"roc_auc": 0.61}, {"roc_auc": 0.70})
    lga = SliceScores("origin=LGA", 130, {"roc_auc": 0.66}, {"roc_auc": 0.69})
    result = decide(spec, _measured((lga, jfk)), 1)
    assert result.code == "slice_regression"
    assert result.reason.startswith(
        "slice origin=JFK (120 rows): roc_auc 0.61 vs champion 0.7 (-0.09, more than 0.05 worse)"
    )
    assert decide(spec, _measured((lga,)), 1).code == "improved"  # 0.03 is allowed
    # A slice without the metric (one class only) cannot regress.
    single = SliceScores("plan=pro", 100, {"accuracy": 0.2}, {"accuracy": 0.9})
    assert decide(spec, _measured((single,)), 1).code == "improved"
    # The champion not scored on this holdout: no slice comparison, and the reason says so.
    unscored = decide(spec, _measured((jfk,), champion=False), 1, {"roc_auc": 0.7})
    assert unscored.code == "improved" and "slices not checked" in unscored.reason
    # Off by default.
    off = parse_spec_yaml(SLICED_SPEC.replace("  max_slice_regression: 0.05\n", ""))
    assert decide(off, _measured((jfk,)), 1).code == "improved"
