"""Every validation rule, boundary values, several reasons at once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ingest_testkit import SPEC, good, make_spec

from continuum.ingest.validation import (
    WHOLE_RECORD,
    Problem,
    ValidRow,
    parse_event_time,
    validate_record,
)

SPEC_OBJ = make_spec()


def check(record: Any, spec: Any = SPEC_OBJ) -> ValidRow | list[Problem]:
    raw = record if isinstance(record, bytes) else json.dumps(record).encode()
    return validate_record(spec, raw)


def problems(record: Any, spec: Any = SPEC_OBJ) -> list[tuple[str, str]]:
    result = check(record, spec)
    assert isinstance(result, list), f"expected a rejection, got {result}"
    return [(p.field, p.code) for p in result]


def row(record: Any, spec: Any = SPEC_OBJ) -> ValidRow:
    result = check(record, spec)
    assert isinstance(result, ValidRow), f"expected a row, got {result}"
    return result


def test_valid_record_is_typed() -> None:
    r = row(good())
    assert r.values == {
        "distance": 1089.0,
        "dep_hour": 5.0,
        "carrier": "UA",
        "origin": "EWR",
        "late": 1,
        "time_hour": datetime(2013, 1, 1, 5, tzinfo=UTC),
        "flight_id": "UA1545",
    }
    assert r.labelled is True
    assert r.event_time == datetime(2013, 1, 1, 5, tzinfo=UTC)


def test_extra_fields_are_ignored() -> None:
    assert "extra" not in row(good(extra="x")).values


@pytest.mark.parametrize("raw", [b"not json", b"{", b"\xff\xfe", b"", b"[1,", b"{'a': 1}"])
def test_non_json_is_one_whole_record_problem(raw: bytes) -> None:
    assert problems(raw) == [(WHOLE_RECORD, "json")]


def test_null_message_value_is_refused() -> None:
    result = validate_record(SPEC_OBJ, None)
    assert isinstance(result, list)
    assert [(p.field, p.code) for p in result] == [(WHOLE_RECORD, "json")]


@pytest.mark.parametrize("value", [[1, 2], 3, "text", None, True])
def test_json_that_is_not_an_object_is_refused(value: Any) -> None:
    assert problems(value) == [(WHOLE_RECORD, "type")]


# -- numeric -------------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 0.0, 5000, 5000.0, 2500.5])
def test_numeric_bounds_are_inclusive(value: float) -> None:
    assert row(good(distance=value)).values["distance"] == float(value)


@pytest.mark.parametrize("value", [-0.001, -1, 5000.0001, 10**6])
def test_numeric_outside_bounds_is_range(value: float) -> None:
    assert problems(good(distance=value)) == [("distance", "range")]


@pytest.mark.parametrize("value", [True, False])
def test_booleans_are_not_numbers(value: bool) -> None:
    assert problems(good(distance=value)) == [("distance", "type")]


@pytest.mark.parametrize("value", ["12", "1e3", "NaN", "inf", ""])
def test_strings_that_look_numeric_are_refused(value: str) -> None:
    assert problems(good(distance=value)) == [("distance", "type")]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_literals_are_refused(literal: str) -> None:
    raw = json.dumps(good()).replace('"dep_hour": 5', f'"dep_hour": {literal}').encode()
    assert problems(raw) == [("dep_hour", "nonfinite")]


def test_huge_integer_is_range() -> None:
    raw = json.dumps(good()).replace('"dep_hour": 5', '"dep_hour": ' + "9" * 400).encode()
    assert problems(raw) == [("dep_hour", "range")]


def test_unbounded_numeric_accepts_any_finite_number() -> None:
    spec = make_spec(
        schema={**SPEC["schema"], "features": [{"name": "distance", "type": "numeric"}]}
    )
    assert row({"distance": -1e300, "time_hour": "2013-01-01"}, spec).values["distance"] == -1e300


@pytest.mark.parametrize(
    "record", [good(dep_hour=None), {k: v for k, v in good().items() if k != "dep_hour"}]
)
def test_nullable_numeric_absent_or_null_is_null(record: dict[str, Any]) -> None:
    assert row(record).values["dep_hour"] is None


def test_required_numeric_absent_or_null_is_missing() -> None:
    assert problems(good(distance=None)) == [("distance", "missing")]
    without = {k: v for k, v in good().items() if k != "distance"}
    assert problems(without) == [("distance", "missing")]


@pytest.mark.parametrize("value", [[1], {"v": 1}])
def test_numeric_containers_are_type_errors(value: Any) -> None:
    assert problems(good(distance=value)) == [("distance", "type")]


# -- categorical ---------------------------------------------------------------------
def test_open_categorical_accepts_any_string_including_empty() -> None:
    assert row(good(carrier="")).values["carrier"] == ""
    assert row(good(carrier="ZZ")).values["carrier"] == "ZZ"


def test_closed_categorical_refuses_unknown_values() -> None:
    assert problems(good(origin="LAX")) == [("origin", "category")]
    assert problems(good(origin="jfk")) == [("origin", "category")]  # case matters


@pytest.mark.parametrize("value", [1, 1.5, True, ["JFK"]])
def test_categorical_must_be_a_string(value: Any) -> None:
    assert problems(good(carrier=value)) == [("carrier", "type")]


def test_categorical_nullability() -> None:
    assert row(good(origin=None)).values["origin"] is None
    assert problems(good(carrier=None)) == [("carrier", "missing")]


# -- target --------------------------------------------------------------------------
def test_absent_or_null_target_is_unlabelled() -> None:
    assert row(good(late=None)).labelled is False
    without = {k: v for k, v in good().items() if k != "late"}
    assert row(without).labelled is False
    assert row(without).values["late"] is None


@pytest.mark.parametrize(("value", "label"), [(True, 1), (False, 0), (0, 0), (1, 1), (1.0, 1)])
def test_classification_labels_are_integers(value: Any, label: int) -> None:
    stored = row(good(late=value)).values["late"]
    assert stored == label
    assert type(stored) is int


@pytest.mark.parametrize("value", ["yes", "1", 0.5, [1]])
def test_classification_label_types_refused(value: Any) -> None:
    assert problems(good(late=value)) == [("late", "type")]


def test_regression_target_must_be_finite_number() -> None:
    spec = make_spec(task="regression", model={"estimator": "Ridge"}, promotion={"metric": "rmse"})
    assert row(good(late=12.5), spec).values["late"] == 12.5
    assert problems(good(late=True), spec) == [("late", "type")]
    assert problems(good(late="12.5"), spec) == [("late", "type")]
    raw = json.dumps(good()).replace('"late": 1', '"late": NaN').encode()
    assert problems(raw, spec) == [("late", "nonfinite")]


# -- event time ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-01-01T05:00:00", datetime(2013, 1, 1, 5, tzinfo=UTC)),
        ("2013-01-01 05:00:00", datetime(2013, 1, 1, 5, tzinfo=UTC)),
        ("2013-01-01T05:00:00Z", datetime(2013, 1, 1, 5, tzinfo=UTC)),
        ("2013-01-01T06:30:00+01:30", datetime(2013, 1, 1, 5, tzinfo=UTC)),
        ("2013-01-01", datetime(2013, 1, 1, tzinfo=UTC)),
        ("2013-01-01T05:00:00.123456", datetime(2013, 1, 1, 5, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_event_time_parses_iso8601_naive_as_utc(text: str, expected: datetime) -> None:
    assert parse_event_time(text) == expected
    assert row(good(time_hour=text)).event_time == expected


@pytest.mark.parametrize("value", ["yesterday", "2013-13-01", "01/02/2013", "", 1357016400, True])
def test_bad_event_time_is_time(value: Any) -> None:
    assert problems(good(time_hour=value)) == [("time_hour", "time")]


def test_missing_event_time_is_missing() -> None:
    assert problems(good(time_hour=None)) == [("time_hour", "missing")]


# -- entity id -----------------------------------------------------------------------
def test_entity_id_is_optional_string_or_integer() -> None:
    assert row(good(flight_id=None)).values["flight_id"] is None
    assert row(good(flight_id=1545)).values["flight_id"] == "1545"
    assert problems(good(flight_id=15.45)) == [("flight_id", "type")]
    assert problems(good(flight_id=True)) == [("flight_id", "type")]


# -- many reasons ----------------------------------------------------------------------
def test_every_problem_is_reported_at_once() -> None:
    record = good(
        distance=-5, dep_hour="5", carrier=None, origin="LAX", late="x", time_hour="later"
    )
    assert problems(record) == [
        ("distance", "range"),
        ("dep_hour", "type"),
        ("carrier", "missing"),
        ("origin", "category"),
        ("late", "type"),
        ("time_hour", "time"),
    ]


def test_problem_becomes_contract_reason() -> None:
    result = check(good(distance=-5))
    assert isinstance(result, list)
    reason = result[0].to_reason()
    assert reason.field == "distance"
    assert reason.reason.startswith("range: ")
    assert "minimum" in reason.reason


# -- label domain (the spec's target classes / bounds) -------------------------------
@pytest.mark.parametrize("value", [2, -1, 7, 2.0])
def test_binary_label_outside_the_default_classes_is_refused(value: Any) -> None:
    result = check(good(late=value))
    assert isinstance(result, list)
    [problem] = result
    assert (problem.field, problem.code) == ("late", "label")
    reason = problem.to_reason().reason
    assert reason.startswith("label: ") and "classes 0 or 1" in reason
    assert f"got {int(value)}" in reason


def test_binary_label_domain_comes_from_the_spec() -> None:
    spec = make_spec(schema={**SPEC["schema"], "target": {"name": "late", "classes": [2, 7]}})
    assert row(good(late=7), spec).values["late"] == 7
    assert row(good(late=2.0), spec).values["late"] == 2
    assert problems(good(late=1), spec) == [("late", "label")]
    assert problems(good(late=True), spec) == [("late", "label")]  # true is 1, not a class
    assert row(good(late=None), spec).labelled is False


def test_regression_label_outside_its_bounds_is_refused() -> None:
    spec = make_spec(
        task="regression",
        model={"estimator": "Ridge"},
        promotion={"metric": "rmse"},
        schema={**SPEC["schema"], "target": {"name": "late", "min": -60, "max": 600}},
    )
    assert row(good(late=-60), spec).values["late"] == -60.0
    assert row(good(late=600.0), spec).values["late"] == 600.0
    result = check(good(late=601), spec)
    assert isinstance(result, list)
    assert [(p.field, p.code) for p in result] == [("late", "label")]
    assert "target maximum 600" in result[0].message
    assert problems(good(late=-61), spec) == [("late", "label")]
