"""Slicing a holdout and scoring candidate and champion per slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from continuum.contracts import parse_spec_yaml
from continuum.contracts.evaluation_policy import EvaluationPolicy
from continuum.modelkit import ModelOutputs, define_slices, evaluate_slices
from continuum.modelkit.slices import MISSING_VALUE

SPEC = """
name: flights
source_topic: flights.events
task: {task}
schema:
  event_time: ts
  target: {{name: y}}
  features:
    - {{name: distance, type: numeric}}
    - {{name: origin, type: categorical}}
model: {{estimator: {estimator}}}
promotion: {{metric: {metric}}}
"""

CLASSIFIER = parse_spec_yaml(
    SPEC.format(task="binary_classification", estimator="LogisticRegression", metric="roc_auc")
)
REGRESSOR = parse_spec_yaml(SPEC.format(task="regression", estimator="Ridge", metric="rmse"))


def _frame(n: int = 800) -> pd.DataFrame:
    origins = np.array(["EWR", "JFK", "LGA", None, "SFO"], dtype=object)
    # 250 EWR, 250 JFK, 250 LGA, 30 missing, 20 SFO (too small to be a slice at 100).
    counts = [250, 250, 250, 30, 20]
    origin = np.repeat(origins, counts)[:n]
    distance = np.arange(n, dtype=float)
    distance[::100] = np.nan  # 8 rows without a distance: too few for a slice
    return pd.DataFrame({"distance": distance, "origin": origin})


def test_slices_are_categorical_values_and_quantile_bins_above_the_minimum() -> None:
    slices = define_slices(CLASSIFIER, _frame(), bins=4, min_rows=100)
    names = [(s.feature, s.value, int(s.mask.sum())) for s in slices]
    distance = [n for n in names if n[0] == "distance"]
    # 792 distances (0, 100, ... 700 are missing): four bins of 198, the last one closed.
    assert [(n[1], n[2]) for n in distance] == [
        ("[1, 200.5)", 198),
        ("[200.5, 400)", 198),
        ("[400, 599.5)", 198),
        ("[599.5, 799]", 198),
    ]
    assert [(n[1], n[2]) for n in names if n[0] == "origin"] == [
        ("EWR", 250),
        ("JFK", 250),
        ("LGA", 250),
    ]
    with_missing = define_slices(CLASSIFIER, _frame(), bins=2, min_rows=30)
    assert ("origin", MISSING_VALUE, 30) in [
        (s.feature, s.value, int(s.mask.sum())) for s in with_missing
    ]
    assert "SFO" not in {s.value for s in with_missing}


def test_a_constant_numeric_has_no_bins() -> None:
    frame = pd.DataFrame({"distance": [5.0] * 300, "origin": ["EWR"] * 300})
    assert [s.feature for s in define_slices(CLASSIFIER, frame, bins=4, min_rows=100)] == ["origin"]


def _scores(rng: np.random.Generator, y: np.ndarray, skill: float) -> np.ndarray:
    """Probabilities that rank ``y`` well for high ``skill``, at random for 0."""
    return np.clip(0.5 + skill * (y - 0.5) + rng.normal(0, 0.25, len(y)), 0.001, 0.999)


def test_candidate_worse_than_champion_on_one_slice_is_flagged_and_named() -> None:
    rng = np.random.default_rng(0)
    frame = _frame()
    y = (np.arange(len(frame)) % 2).astype(np.int64)
    champion_p = _scores(rng, y, 0.5)
    candidate_p = champion_p.copy()
    jfk = (frame["origin"] == "JFK").to_numpy()
    candidate_p[jfk] = _scores(rng, y[jfk], 0.0)  # no skill left at JFK

    def outputs(p: np.ndarray) -> ModelOutputs:
        return ModelOutputs((p > 0.5).astype(np.int64), np.column_stack([1 - p, p]), (0, 1))

    result = evaluate_slices(CLASSIFIER, frame, y, outputs(candidate_p), outputs(champion_p))
    by_name = {s.name: s for s in result.slices}
    assert by_name["origin=JFK"].flags == ["worse_than_champion", "worse_than_overall"]
    assert by_name["origin=EWR"].flags == []
    assert by_name["origin=EWR"].metrics == by_name["origin=EWR"].champion_metrics
    worst = result.worst_regression()
    assert worst is not None
    assert worst[0].name == "origin=JFK"
    jfk_scores = by_name["origin=JFK"]
    assert worst[1] == pytest.approx(
        jfk_scores.champion_metrics["roc_auc"] - jfk_scores.metrics["roc_auc"]
    )
    assert worst[1] > 0.3
    # Distance bins holding JFK's rows (250 to 499) are worse too; other origins are not.
    assert [s.name for s in result.flagged if s.feature == "origin"] == ["origin=JFK"]


def test_lower_is_better_metrics_count_a_larger_error_as_a_regression() -> None:
    frame = _frame()
    y = np.linspace(0, 10, len(frame))
    champion = ModelOutputs(y + 0.1)
    worse = y + 0.1
    lga = (frame["origin"] == "LGA").to_numpy()
    worse[lga] += 2.0
    policy = EvaluationPolicy(slice_min_rows=100, slice_bins=2, slice_flag_threshold=0.5)
    result = evaluate_slices(REGRESSOR, frame, y, ModelOutputs(worse), champion, policy)
    by_name = {s.name: s for s in result.slices}
    assert result.regression(by_name["origin=LGA"]) == pytest.approx(2.0)
    assert result.regression(by_name["origin=EWR"]) == pytest.approx(0.0)
    assert "worse_than_champion" in by_name["origin=LGA"].flags
    assert result.bins == 2 and result.min_rows == 100


def test_without_a_champion_only_the_candidates_own_average_is_compared() -> None:
    frame = _frame()
    y = np.linspace(0, 10, len(frame))
    predicted = y.copy()
    predicted[(frame["origin"] == "EWR").to_numpy()] += 3.0
    result = evaluate_slices(REGRESSOR, frame, y, ModelOutputs(predicted))
    by_name = {s.name: s for s in result.slices}
    assert by_name["origin=EWR"].flags == ["worse_than_overall"]
    assert by_name["origin=EWR"].champion_metrics == {}
    assert result.worst_regression() is None
