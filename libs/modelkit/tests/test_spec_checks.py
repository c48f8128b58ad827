"""validate_model_spec: what scikit-learn would refuse, found at apply, with field paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from continuum.contracts import ESTIMATORS, PipelineSpec, parse_spec_yaml
from continuum.modelkit import SpecProblem, build_pipeline, validate_model_spec


def spec(model: dict[str, Any], *, categoricals: bool = True) -> PipelineSpec:
    features: list[dict[str, Any]] = [{"name": "x", "type": "numeric"}]
    if categoricals:
        features.append({"name": "c", "type": "categorical"})
    task = ESTIMATORS[model["estimator"]][1]
    return PipelineSpec.model_validate(
        {
            "name": "checks",
            "source_topic": "checks.records",
            "task": task,
            "schema": {"features": features, "target": {"name": "y"}, "event_time": "ts"},
            "model": model,
            "promotion": {"metric": "roc_auc" if task == "binary_classification" else "rmse"},
        }
    )


def problems(model: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    return {p.path: p.reason for p in validate_model_spec(spec(model, **kwargs))}


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_defaults_and_the_example_params_are_accepted(estimator: str) -> None:
    assert validate_model_spec(spec({"estimator": estimator})) == []


def test_the_example_specs_are_accepted() -> None:
    examples = sorted((Path(__file__).parents[3] / "examples" / "pipelines").glob("*.yaml"))
    assert examples
    for path in examples:
        assert validate_model_spec(parse_spec_yaml(path.read_text())) == [], path


def test_unknown_and_invalid_params_name_the_field_and_the_reason() -> None:
    found = problems(
        {"estimator": "LogisticRegression", "params": {"max_iters": 5, "C": -1, "tol": 1e-3}}
    )
    assert set(found) == {"model.params.max_iters", "model.params.C"}
    assert "no parameter 'max_iters'; did you mean 'max_iter'?" in found["model.params.max_iters"]
    assert "'C' parameter of LogisticRegression" in found["model.params.C"]
    assert "Got -1 instead" in found["model.params.C"]
    wrong_type = problems({"estimator": "Ridge", "params": {"alpha": "much"}})
    assert "alpha" in wrong_type["model.params.alpha"]
    many = problems({"estimator": "LogisticRegression", "params": {"max_iter": "many"}})
    assert "must be an int" in many["model.params.max_iter"]


def test_params_continuum_sets_itself_are_refused() -> None:
    found = problems(
        {"estimator": "HistGradientBoostingClassifier", "params": {"categorical_features": [1]}}
    )
    assert "set by Continuum" in found["model.params.categorical_features"]
    searched = problems(
        {
            "estimator": "HistGradientBoostingRegressor",
            "search": {"params": {"categorical_features": [None]}},
        }
    )
    assert "set by Continuum" in searched["model.search.params.categorical_features"]


def test_search_names_choices_and_distribution_ends_are_checked() -> None:
    found = problems(
        {
            "estimator": "LogisticRegression",
            "search": {
                "params": {
                    "C": {"distribution": "loguniform", "low": 0.01, "high": 10},
                    "class_weight": [None, "balanced", "heavy"],
                    "max_iter": {"distribution": "uniform", "low": 100, "high": 500},
                    "Cs": [1, 2],
                    "preprocess__numeric__impute__strategy": ["median", "mean"],
                    "preprocess__categorical__onehot__handle_unknown": ["ignore", "explode"],
                }
            },
        }
    )
    assert set(found) == {
        "model.search.params.class_weight.2",
        "model.search.params.max_iter",
        "model.search.params.Cs",
        "model.search.params.preprocess__categorical__onehot__handle_unknown.1",
    }
    assert "uniform can draw 100.0" in found["model.search.params.max_iter"]
    assert "must be an int" in found["model.search.params.max_iter"]
    assert "did you mean 'C'?" in found["model.search.params.Cs"]


def test_search_on_gradient_boosting() -> None:
    ok = {
        "estimator": "HistGradientBoostingClassifier",
        "params": {"max_iter": 100},
        "search": {
            "params": {
                "learning_rate": {"distribution": "loguniform", "low": 0.02, "high": 0.3},
                "max_leaf_nodes": {"distribution": "randint", "low": 8, "high": 64},
            }
        },
    }
    assert problems(ok) == {}
    bad = {
        **ok,
        "search": {
            "params": {
                "max_leaf_nodes": {"distribution": "randint", "low": 1, "high": 64},
                "max_bins": [63, 255],
                "preprocess__numeric__impute__strategy": ["median"],  # HGB: no imputer
            }
        },
    }
    found = problems(bad)
    assert "randint can draw 1" in found["model.search.params.max_leaf_nodes"]
    assert "model.params" in found["model.search.params.max_bins"]
    assert "no parameter" in found["model.search.params.preprocess__numeric__impute__strategy"]
    # Without categoricals max_bins caps nothing else, so it may be searched.
    assert problems(bad, categoricals=False).keys() == {
        "model.search.params.max_leaf_nodes",
        "model.search.params.preprocess__numeric__impute__strategy",
    }


def test_what_validation_accepts_builds() -> None:
    accepted = spec({"estimator": "RandomForestRegressor", "params": {"n_estimators": 5}})
    assert validate_model_spec(accepted) == []
    assert build_pipeline(accepted).named_steps["model"].n_estimators == 5
    [problem] = validate_model_spec(spec({"estimator": "Ridge", "params": {"alpha": -1}}))
    assert isinstance(problem, SpecProblem) and problem.path == "model.params.alpha"
