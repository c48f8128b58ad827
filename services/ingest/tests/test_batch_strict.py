"""The strict decode (msgspec checks the rules' types in C) and the loose path it leaves
the rest to: every run decides like the per-record contract, row order kept, also for
specs whose rules msgspec cannot express as bounds or a set and for runs mostly refused
strictly (finished loosely)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from ingest_testkit import SPEC, good, make_spec

from continuum.contracts import PipelineSpec
from continuum.ingest.batch_check import BatchChecker
from continuum.ingest.parquet_batch import SOURCE_OFFSET, SOURCE_PARTITION
from continuum.ingest.validation import ValidRow, validate_record


def encoded(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def typed(values: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    return {k: (type(v), repr(v) if isinstance(v, float) else v) for k, v in values.items()}


def assert_like_record_by_record(spec: PipelineSpec, values: list[bytes | None]) -> None:
    # What the strict struct refuses goes record by record, or to the loose struct.
    for one_by_one in (BatchChecker.one_by_one, -1):
        checker = BatchChecker(spec)
        checker.one_by_one = one_by_one
        assert_run_like_record_by_record(spec, values, checker)


def assert_run_like_record_by_record(
    spec: PipelineSpec, values: list[bytes | None], checker: BatchChecker
) -> None:
    offsets = list(range(7, 7 + len(values)))
    run = checker.check(1, offsets, values)
    expected = {o: validate_record(spec, raw) for o, raw in zip(offsets, values, strict=True)}
    accepted = {o: r for o, r in expected.items() if isinstance(r, ValidRow)}
    assert run.offsets == list(accepted)
    rows = run.rows.to_pylist()
    assert [row.pop(SOURCE_OFFSET) for row in rows] == list(accepted)
    assert {row.pop(SOURCE_PARTITION) for row in rows} <= {1}
    assert [typed(row) for row in rows] == [typed(v.values) for v in accepted.values()]
    refused = {o: r for o, r in expected.items() if not isinstance(r, ValidRow)}
    assert [r.offset for r in run.rejected] == list(refused)
    for got, want in zip(run.rejected, refused.values(), strict=True):
        assert [(p.field, p.code, p.message) for p in got.problems] == [
            (p.field, p.code, p.message) for p in want
        ]


def test_strict_and_loose_rows_come_out_in_offset_order() -> None:
    # A label 1.0 or an id beyond int64 is valid but not strict (the loose path types
    # it); true is strict for classes 0 and 1; -0 is 0.0, not -0.0.
    values: list[bytes | None] = [
        encoded(good(late=1.0)),
        encoded(good()),
        encoded(good(late=True, distance=-0.0)),
        b'{"distance": -0, ' + encoded(good())[1:],
        encoded(good(flight_id=2**70)),
        encoded(good(flight_id=12)),
        encoded(good(origin="BOS")),
        encoded(good(late=False, dep_hour=23)),
    ]
    assert_like_record_by_record(make_spec(), values)


def test_a_run_mostly_refused_strictly_is_finished_loosely() -> None:
    # Past give_up strict refusals making a fifth of the run, the rest goes straight to
    # the loose decoder (more than one_by_one of them): same decisions, same order.
    values: list[bytes | None] = []
    for i in range(600):
        kind = i % 10
        if kind < 7:
            values.append(encoded(good(late=1.0, dep_hour=i % 24)))  # loose, accepted
        elif kind == 7:
            values.append(encoded(good(dep_hour=i % 24)))  # strict
        elif kind == 8:
            values.append(encoded(good(dep_hour=30)))  # refused
        else:
            values.append(b"{" if i % 20 == 9 else None)  # not an object
    assert_like_record_by_record(make_spec(), values)


NUMBERS = [-1e308, -5.0, -0.0, 0, 0.0, 3, 5.5, 1e308, "1", None, True]


def feature_spec(**feature: Any) -> PipelineSpec:
    schema = {**SPEC["schema"], "features": [{"name": "x", **feature}]}
    return make_spec(schema=schema)


def with_x(value: Any) -> bytes:
    record = good(x=value)
    for name in ("distance", "dep_hour", "carrier", "origin"):
        del record[name]
    return encoded(record)


@pytest.mark.parametrize(
    "feature",
    [
        {"type": "numeric", "min": -math.inf, "max": math.inf},
        {"type": "numeric", "min": math.inf},
        {"type": "numeric", "max": -math.inf, "nullable": False},
        {"type": "numeric", "min": math.nan, "max": 4.0},
        {"type": "numeric", "min": 0.0, "max": 0.0},
        {"type": "categorical", "values": []},
        {"type": "categorical", "values": [], "nullable": False},
        {"type": "categorical", "values": ["1", "", "a b"]},
    ],
)
def test_rules_msgspec_cannot_bound_decide_like_the_rules(feature: dict[str, Any]) -> None:
    spec = feature_spec(**feature)
    words = ["1", "", "a b", "x"]
    values: list[bytes | None] = [with_x(v) for v in [*NUMBERS, *words]]
    values.append(encoded({k: v for k, v in good().items() if k != "x"}))  # x absent
    assert_like_record_by_record(spec, values)


@pytest.mark.parametrize("classes", [[0, 1], [-3, 9], [-(2**63), 2**63 - 1], [2**53 + 1, 0]])
def test_labels_of_every_json_spelling_decide_like_the_rules(classes: list[int]) -> None:
    # Floats are strict labels when the classes are within 2**53: an integer beyond
    # int64 reads as a float there, and -(2**63) - 1 would read as the class -(2**63).
    spec = make_spec(schema={**SPEC["schema"], "target": {"name": "late", "classes": classes}})
    labels = [*classes, *map(float, classes), -(2**63) - 1, 2**63, 2**64, 2**53 + 1]
    labels += [1.0, 0.0, -0.0, 1.5, 9.0, -3.0, True, False, None, "1"]
    values: list[bytes | None] = [encoded(good(late=label)) for label in labels]
    values.append(b'{"late": 1e0, ' + encoded(good())[1:].replace(b'"late": 1, ', b""))
    assert_like_record_by_record(spec, values)
