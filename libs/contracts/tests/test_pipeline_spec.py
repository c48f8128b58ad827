from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from continuum.contracts import PipelineSpec, parse_spec_yaml

EXAMPLE = Path(__file__).parents[3] / "examples" / "pipelines" / "flights.yaml"

MINIMAL = """
name: demo
source_topic: demo.events
task: binary_classification
schema:
  event_time: ts
  target: {name: y}
  features:
    - {name: x, type: numeric, min: 0, max: 1}
    - {name: colour, type: categorical, values: [red, blue]}
model: {estimator: LogisticRegression}
promotion: {metric: roc_auc}
"""


def test_example_flights_spec_is_valid() -> None:
    spec = parse_spec_yaml(EXAMPLE.read_text())
    assert spec.name == "flights"
    assert spec.record_schema.feature_names[:2] == ["dep_hour", "day_of_week"]
    assert spec.higher_is_better


def test_minimal_spec_gets_sensible_defaults() -> None:
    spec = parse_spec_yaml(MINIMAL)
    assert spec.training.holdout_fraction == 0.2
    assert spec.triggers.on_drift is True
    assert spec.monitoring.window_rows == 1000
    assert spec.ingest.flush_rows == 1000


def test_hash_ignores_yaml_layout_but_not_content() -> None:
    a = parse_spec_yaml(MINIMAL)
    b = parse_spec_yaml(
        MINIMAL.replace(
            "model: {estimator: LogisticRegression}", "model:\n  estimator: LogisticRegression"
        )
    )
    c = parse_spec_yaml(MINIMAL.replace("max: 1}", "max: 2}"))
    assert a.sha256() == b.sha256()
    assert a.sha256() != c.sha256()
    assert PipelineSpec.model_validate_json(a.model_dump_json(by_alias=True)) == a


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("estimator: LogisticRegression", "estimator: os.system"), "is not allowed"),
        (("estimator: LogisticRegression", "estimator: Ridge"), "does not solve task"),
        (("metric: roc_auc", "metric: rmse"), "does not fit task"),
        (("metric: roc_auc", "metric: vibes"), "unknown"),
        (("min: 0, max: 1", "min: 2, max: 1"), "greater than max"),
        (("name: demo", "name: Demo"), "name"),
        (("source_topic: demo.events", "source_topic: continuum.data.batches"), "continuum"),
        (("target: {name: y}", "target: {name: x}"), "used twice"),
        (("task: binary_classification", "task: clustering"), "task"),
    ],
)
def test_bad_specs_fail_with_a_reason(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_spec_yaml(MINIMAL.replace(*change))


def test_unknown_keys_are_refused_with_their_path() -> None:
    with pytest.raises(ValidationError) as error:
        parse_spec_yaml(MINIMAL + "promtion: {metric: roc_auc}\n")
    assert error.value.errors()[0]["loc"] == ("promtion",)
    with pytest.raises(ValidationError) as error:
        parse_spec_yaml(
            MINIMAL.replace(
                "model: {estimator: LogisticRegression}",
                "model: {estimator: LogisticRegression, parms: {}}",
            )
        )
    assert error.value.errors()[0]["loc"] == ("model", "parms")


def test_yaml_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(ValueError, match="mapping"):
        parse_spec_yaml("- just\n- a list\n")


def test_search_space_is_validated() -> None:
    ok = MINIMAL.replace(
        "model: {estimator: LogisticRegression}",
        "model:\n  estimator: LogisticRegression\n  search:\n    params:\n"
        "      C: {distribution: loguniform, low: 0.01, high: 10}\n      penalty: [l2]\n",
    )
    spec = parse_spec_yaml(ok)
    assert spec.model.search is not None
    assert spec.model.search.n_candidates == 8
    with pytest.raises(ValidationError, match="loguniform needs low > 0"):
        parse_spec_yaml(ok.replace("low: 0.01", "low: 0"))


def test_monitoring_policy_names_drift_methods_and_a_column_threshold() -> None:
    spec = parse_spec_yaml(
        MINIMAL + "monitoring: {numeric_drift_method: psi, categorical_drift_method: chisquare,"
        " column_drift_threshold: 0.2}\n"
    )
    assert spec.monitoring.numeric_drift_method == "psi"
    assert spec.monitoring.column_drift_threshold == 0.2
    assert parse_spec_yaml(MINIMAL).monitoring.numeric_drift_method is None
    with pytest.raises(ValidationError, match="numeric_drift_method"):
        parse_spec_yaml(MINIMAL + "monitoring: {numeric_drift_method: vibes}\n")
