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


REGRESSION = (
    MINIMAL.replace("binary_classification", "regression")
    .replace("estimator: LogisticRegression", "estimator: Ridge")
    .replace("metric: roc_auc", "metric: rmse")
)


def _errors(text: str) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as error:
        parse_spec_yaml(text)
    return [(e["loc"], e["msg"]) for e in error.value.errors()]


def test_binary_target_classes_default_and_explicit() -> None:
    assert parse_spec_yaml(MINIMAL).record_schema.target.binary_classes == (0, 1)
    spec = parse_spec_yaml(MINIMAL.replace("{name: y}", "{name: y, classes: [-1, 1]}"))
    assert spec.record_schema.target.binary_classes == (-1, 1)
    assert PipelineSpec.model_validate_json(spec.model_dump_json(by_alias=True)) == spec


@pytest.mark.parametrize(
    ("target", "loc", "message"),
    [
        ("{name: y, classes: [1, 1]}", ("classes",), "exactly two distinct integers"),
        ("{name: y, classes: [0, 1, 2]}", ("classes",), "exactly two distinct integers"),
        ("{name: y, classes: [0]}", ("classes",), "exactly two distinct integers"),
        ("{name: y, classes: [no, yes]}", ("classes", 0), "valid integer"),
        ("{name: y, classes: [true, false]}", ("classes", 0), "valid integer"),
        ("{name: y, classes: [0.5, 1]}", ("classes", 0), "valid integer"),
        ("{name: y, min: 0}", ("min",), "min/max are for regression"),
        ("{name: y, max: 1}", ("max",), "min/max are for regression"),
    ],
)
def test_binary_target_domain_is_refused_at_its_path(
    target: str, loc: tuple[int | str, ...], message: str
) -> None:
    [(where, why), *_] = _errors(MINIMAL.replace("{name: y}", target))
    assert where == ("schema", "target", *loc)
    assert message in why


def test_regression_target_bounds() -> None:
    spec = parse_spec_yaml(REGRESSION.replace("{name: y}", "{name: y, min: -5, max: 5}"))
    assert (spec.record_schema.target.min, spec.record_schema.target.max) == (-5, 5)
    assert parse_spec_yaml(REGRESSION.replace("{name: y}", "{name: y, min: 1, max: 1}"))
    assert _errors(REGRESSION.replace("{name: y}", "{name: y, min: 2, max: 1}")) == [
        (("schema", "target", "max"), "Value error, min (2.0) is greater than max (1.0)")
    ]
    assert _errors(REGRESSION.replace("{name: y}", "{name: y, classes: [0, 1]}")) == [
        (
            ("schema", "target", "classes"),
            "classes are for binary_classification; a regression target may set min/max",
        )
    ]
    [(where, why)] = _errors(REGRESSION.replace("{name: y}", "{name: y, max: .inf}"))
    assert where == ("schema", "target", "max") and "finite" in why


def test_min_rows_above_window_rows_is_refused_at_training() -> None:
    [(where, why)] = _errors(MINIMAL + "training: {window_rows: 100, min_rows: 500}\n")
    assert where == ("training",)
    assert "min_rows (500) is greater than window_rows (100)" in why
    [(where, why)] = _errors(MINIMAL + "training: {window_rows: 100}\n")  # default min_rows
    assert "min_rows (200) is greater than window_rows (100)" in why
    assert parse_spec_yaml(MINIMAL + "training: {window_rows: 500, min_rows: 500}\n")
    assert parse_spec_yaml(MINIMAL + "training: {window_days: 1, min_rows: 5000}\n")


def test_slice_evaluation_and_slice_regression_policy() -> None:
    spec = parse_spec_yaml(MINIMAL)
    assert spec.promotion.max_slice_regression is None  # off unless asked for
    assert (spec.evaluation.slice_min_rows, spec.evaluation.slice_bins) == (100, 4)
    strict = parse_spec_yaml(
        MINIMAL.replace(
            "promotion: {metric: roc_auc}",
            "promotion: {metric: roc_auc, max_slice_regression: 0.05}\n"
            "evaluation: {slice_min_rows: 50, slice_bins: 5, slice_flag_threshold: 0.02}",
        )
    )
    assert strict.promotion.max_slice_regression == 0.05
    assert strict.evaluation.slice_bins == 5
    for extra, where in [
        ("promotion: {metric: roc_auc, max_slice_regression: -0.1}", "max_slice_regression"),
        ("evaluation: {slice_bins: 1}", "evaluation.slice_bins"),
        ("evaluation: {slice_min_rows: 5}", "evaluation.slice_min_rows"),
        ("evaluation: {slices: 3}", "evaluation.slices"),
    ]:
        text = MINIMAL.replace("promotion: {metric: roc_auc}", "")
        if not extra.startswith("promotion"):
            extra += "\npromotion: {metric: roc_auc}"
        with pytest.raises(ValidationError, match=where.replace(".", r"\.")):
            parse_spec_yaml(text + extra)


def test_deployment_defaults_to_direct_and_takes_canary_and_shadow() -> None:
    spec = parse_spec_yaml(MINIMAL)
    assert spec.deployment.strategy == "direct"
    assert spec.deployment.steps == [0.1, 0.5, 1.0]
    canary = parse_spec_yaml(
        MINIMAL + "deployment: {strategy: canary, steps: [0.2, 1.0], min_labelled: 50}\n"
    )
    assert canary.deployment.step_count() == 2
    assert [canary.deployment.traffic_share(i) for i in (0, 1)] == [0.2, 1.0]
    shadow = parse_spec_yaml(MINIMAL + "deployment: {strategy: shadow}\n")
    assert (shadow.deployment.step_count(), shadow.deployment.traffic_share(0)) == (1, 0.0)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{strategy: blue_green}", "deployment.strategy"),
        ("{steps: [0.5, 0.2, 1.0]}", "steps must increase"),
        ("{steps: [0.1, 0.5]}", "the last step must be 1.0"),
        ("{steps: [0, 1.0]}", r"in \(0, 1\]"),
        ("{steps: []}", "deployment.steps"),
        ("{min_labelled: 5}", "deployment.min_labelled"),
        ("{max_latency_ratio: 1}", "deployment.max_latency_ratio"),
        ("{max_error_rate: 2}", "deployment.max_error_rate"),
        ("{canary: true}", "deployment.canary"),
        ("{strategy: canary, steps: [1.0]}", "a canary needs a step below 1.0"),
    ],
)
def test_bad_deployment_blocks_are_refused_at_their_path(block: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_spec_yaml(MINIMAL + f"deployment: {block}\n")
