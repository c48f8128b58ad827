"""What ``PUT /v1/pipelines/{name}`` answers (422 ``detail``) for a spec the contract refuses."""

from __future__ import annotations

import pytest

from continuum.registry.api.spec_errors import SpecProblemsError, parse_or_explain


def problems(text: str) -> dict[str, str]:
    with pytest.raises(SpecProblemsError) as error:
        parse_or_explain(text)
    return {p["path"]: p["reason"] for p in error.value.problems}


def test_min_rows_above_window_rows_names_both_at_training(spec_yaml: str) -> None:
    found = problems(spec_yaml + "training: {window_rows: 1000, min_rows: 5000}\n")
    assert list(found) == ["training"]
    assert "min_rows (5000) is greater than window_rows (1000)" in found["training"]
    # Equal is fine: the window holds exactly enough rows.
    parse_or_explain(spec_yaml + "training: {window_rows: 1000, min_rows: 1000}\n")


def test_target_domain_errors_point_at_the_field(spec_yaml: str) -> None:
    three = problems(spec_yaml.replace("{name: churned}", "{name: churned, classes: [0, 1, 2]}"))
    assert list(three) == ["schema.target.classes"]
    assert "exactly two distinct integers" in three["schema.target.classes"]
    bounds = problems(spec_yaml.replace("{name: churned}", "{name: churned, min: 0, max: 1}"))
    assert set(bounds) == {"schema.target.min", "schema.target.max"}
    assert "min/max are for regression" in bounds["schema.target.min"]
    regression = (
        spec_yaml.replace("binary_classification", "regression")
        .replace("estimator: LogisticRegression", "estimator: Ridge")
        .replace("metric: roc_auc", "metric: rmse")
    )
    classes = problems(regression.replace("{name: churned}", "{name: churned, classes: [0, 1]}"))
    assert list(classes) == ["schema.target.classes"]
    assert "classes are for binary_classification" in classes["schema.target.classes"]
    ordered = problems(regression.replace("{name: churned}", "{name: churned, min: 5, max: 1}"))
    assert ordered == {"schema.target.max": "Value error, min (5.0) is greater than max (1.0)"}
