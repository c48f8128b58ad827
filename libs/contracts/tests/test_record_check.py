"""The one record contract: typed values, every problem, the two explicit parameters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from continuum.contracts import (
    ABSENT,
    CheckedRecord,
    PipelineSpec,
    RecordChecker,
    RecordProblem,
    check_record,
)

SCHEMA: dict[str, Any] = {
    "features": [
        {"name": "x", "type": "numeric", "min": 0, "max": 10, "nullable": False},
        {"name": "colour", "type": "categorical", "values": ["red", "blue"]},
    ],
    "target": {"name": "y"},
    "event_time": "ts",
    "entity_id": "id",
}


def spec(
    task: str = "binary_classification", features: list[Any] | None = None, **target: Any
) -> PipelineSpec:
    regression = task == "regression"
    schema = {**SCHEMA, "target": {"name": "y", **target}}
    if features is not None:
        schema["features"] = features
    return PipelineSpec.model_validate(
        {
            "name": "demo",
            "source_topic": "demo.events",
            "task": task,
            "schema": schema,
            "model": {"estimator": "Ridge" if regression else "LogisticRegression"},
            "promotion": {"metric": "rmse" if regression else "roc_auc"},
        }
    )


GOOD: dict[str, Any] = {"x": 3, "colour": "red", "y": 1, "ts": "2024-05-01T12:00:00", "id": 7}


def ok(result: CheckedRecord | list[RecordProblem]) -> CheckedRecord:
    assert isinstance(result, CheckedRecord), result
    return result


def codes(result: CheckedRecord | list[RecordProblem]) -> list[tuple[str, str, str]]:
    assert isinstance(result, list), result
    return [(p.field, p.code, p.kind) for p in result]


def test_a_good_record_is_typed() -> None:
    checked = ok(check_record(spec(), GOOD))
    assert checked.values == {
        "x": 3.0,
        "colour": "red",
        "y": 1,
        "ts": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "id": "7",
    }
    assert type(checked.values["x"]) is float and type(checked.values["y"]) is int
    assert checked.event_time == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert (checked.entity_id, checked.labelled) == ("7", True)


def test_every_problem_with_field_code_kind_and_input() -> None:
    record = {"colour": 1, "y": "yes", "ts": "later", "id": True, "extra": object()}
    result = check_record(spec(), record)
    assert codes(result) == [
        ("x", "missing", "missing"),
        ("colour", "type", "string_type"),
        ("y", "type", "int_type"),
        ("ts", "time", "datetime_parsing"),
        ("id", "type", "string_type"),
    ]
    assert isinstance(result, list)
    assert result[0].input is ABSENT and result[0].message == "Field required"
    assert result[1].input == 1 and result[1].message == "Input should be a valid string, not int"


@pytest.mark.parametrize(
    ("value", "code", "kind"),
    [
        (None, "missing", "null"),
        (True, "type", "float_type"),
        ("3", "type", "float_type"),
        (float("nan"), "nonfinite", "finite_number"),
        (float("-inf"), "nonfinite", "finite_number"),
        (10**400, "range", "finite_number"),
        (-0.5, "range", "greater_than_equal"),
        (10.5, "range", "less_than_equal"),
    ],
)
def test_numeric_rules(value: Any, code: str, kind: str) -> None:
    assert codes(check_record(spec(), {**GOOD, "x": value})) == [("x", code, kind)]


@pytest.mark.parametrize("value", [0, 10, 0.0, 10.0, 5.5])
def test_numeric_bounds_are_inclusive(value: float) -> None:
    assert ok(check_record(spec(), {**GOOD, "x": value})).values["x"] == float(value)


def test_categorical_is_a_string_from_the_closed_set() -> None:
    assert codes(check_record(spec(), {**GOOD, "colour": 1.5})) == [
        ("colour", "type", "string_type")
    ]
    [problem] = check_record(spec(), {**GOOD, "colour": "green"})  # type: ignore[misc]
    assert (problem.code, problem.kind) == ("category", "enum")
    assert problem.message == "Input should be 'red' or 'blue', got 'green'"
    assert ok(check_record(spec(), {**GOOD, "colour": None})).values["colour"] is None


def test_text_that_cannot_be_stored_is_refused() -> None:
    # JSON can spell an unpaired surrogate; Parquet, Kafka and HTTP bodies cannot carry it.
    free = [{"name": "carrier", "type": "categorical"}]
    for record, field in (
        ({**GOOD, "carrier": "AA\ud800"}, "carrier"),
        ({**GOOD, "carrier": "AA", "id": "f-\udfff"}, "id"),
    ):
        assert codes(check_record(spec(features=free), record)) == [
            (field, "type", "string_unicode")
        ]
    assert ok(check_record(spec(features=free), {**GOOD, "carrier": "Zürich ✈"}))


@pytest.mark.parametrize(("value", "label"), [(True, 1), (False, 0), (0, 0), (1.0, 1)])
def test_binary_labels_are_ints(value: Any, label: int) -> None:
    assert ok(check_record(spec(), {**GOOD, "y": value})).values["y"] == label


@pytest.mark.parametrize("value", [2, -1, 7, 3.0, 2**70])
def test_binary_label_outside_the_classes(value: Any) -> None:
    result = check_record(spec(), {**GOOD, "y": value})
    assert codes(result) == [("y", "label", "enum")]
    assert isinstance(result, list)
    assert "one of the classes 0 or 1 (schema.target.classes)" in result[0].message


def test_binary_label_classes_from_the_spec() -> None:
    custom = spec(classes=[7, 2])
    assert ok(check_record(custom, {**GOOD, "y": 7})).values["y"] == 7
    assert codes(check_record(custom, {**GOOD, "y": 1})) == [("y", "label", "enum")]


def test_regression_label_bounds() -> None:
    bounded = spec("regression", min=0, max=100)
    assert ok(check_record(bounded, {**GOOD, "y": 100})).values["y"] == 100.0
    result = check_record(bounded, {**GOOD, "y": -1})
    assert codes(result) == [("y", "label", "greater_than_equal")]
    assert isinstance(result, list) and "target minimum 0" in result[0].message
    assert codes(check_record(bounded, {**GOOD, "y": 1e9})) == [("y", "label", "less_than_equal")]
    unbounded = spec("regression")
    assert ok(check_record(unbounded, {**GOOD, "y": -1e300})).values["y"] == -1e300
    assert codes(check_record(unbounded, {**GOOD, "y": True})) == [("y", "type", "float_type")]


def test_absent_or_null_label_is_unlabelled() -> None:
    without = {k: v for k, v in GOOD.items() if k != "y"}
    assert ok(check_record(spec(), without)).labelled is False
    assert ok(check_record(spec(), {**GOOD, "y": None})).values["y"] is None


def test_event_time_is_required_unless_the_caller_says_otherwise() -> None:
    without = {k: v for k, v in GOOD.items() if k != "ts"}
    assert codes(check_record(spec(), without)) == [("ts", "missing", "missing")]
    checked = ok(check_record(spec(), without, require_event_time=False))
    assert checked.event_time is None and checked.values["ts"] is None
    # When present it is parsed the same way either way.
    lenient = RecordChecker(spec(), require_event_time=False)
    assert codes(lenient.check({**GOOD, "ts": 5})) == [("ts", "time", "datetime_type")]
    aware = {**GOOD, "ts": "2024-05-01T14:00:00+02:00"}
    assert ok(lenient.check(aware)).event_time == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+02:34:48", "9999-12-31T23:59:59-05:00"])
def test_a_time_outside_utcs_range_is_refused_not_raised(when: str) -> None:
    # Valid ISO-8601 whose UTC instant is before year 1 or after 9999: one such message
    # must be quarantined, not crash the run of messages it came with.
    result = check_record(spec(), {**GOOD, "ts": when})
    assert codes(result) == [("ts", "time", "datetime_parsing")]
    assert isinstance(result, list) and "exists in UTC" in result[0].message


def test_check_target_false_ignores_the_target_key() -> None:
    checker = RecordChecker(spec(), check_target=False)
    checked = ok(checker.check({**GOOD, "y": "not a label"}))
    assert "y" not in checked.values and checked.labelled is False


def test_problem_becomes_the_rejection_reason() -> None:
    [problem] = check_record(spec(), {**GOOD, "x": -1})  # type: ignore[misc]
    reason = problem.to_reason()
    assert reason.field == "x"
    assert reason.reason == "range: Input should be greater than or equal to the minimum 0, got -1"


def test_long_closed_sets_are_shortened_in_messages() -> None:
    values = [f"v{i}" for i in range(25)]
    checker = RecordChecker(
        spec(features=[{"name": "colour", "type": "categorical", "values": values}])
    )
    [problem] = checker.check({**GOOD, "colour": "nope"})  # type: ignore[misc]
    assert "'v19' or one of 5 more" in problem.message
