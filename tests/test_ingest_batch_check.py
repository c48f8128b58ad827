"""Ingest's batch check decides like the per-record contract, record for record (property).

The same generated specs and records as ``test_record_contract`` (bounds, closed sets,
nullability, entity ids, label domains, and values of every JSON type, big integers,
NaN and infinities included), plus messages that are not JSON objects, are checked
both ways: one by one with ``validate_record`` (the reference: ``check_record`` on the
stdlib decoder's output) and as one run with :class:`BatchChecker`. Same rows accepted
with the same typed values (floats to the bit: -0.0 is not 0.0); same rows refused with
the same problems in the same order.

The records are written out by hand as often as by ``json.dumps``, so both of the batch
check's decoders (the strict struct, whose types come from the rules, and the loose one)
meet what producers may send and ``msgspec`` may read differently from the stdlib:
numbers spelled ``-0``, ``1E2``, ``1e-400``, ``1e400``, integers around the int64 and
float64 limits or longer than Python converts, labels ``1.0`` and ``true``, repeated
keys, escaped keys, text that is not ASCII, not UTF-8 (also in an unknown key, whose
value ``msgspec`` skips unread) or an unpaired surrogate.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from continuum.contracts import PipelineSpec
from continuum.ingest.batch_check import BatchChecker, CheckedRun
from continuum.ingest.parquet_batch import SOURCE_OFFSET, SOURCE_PARTITION
from continuum.ingest.validation import Problem, ValidRow, validate_record
from tests.test_record_contract import ANY_VALUE, records, specs

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOT_OBJECTS = st.sampled_from(
    [b"", b"[1]", b"null", b"{", b'{"a": 1,}', b"\xff\xfe", b'{"x": "\\ud800"}', b"\xef\xbb\xbf{}"]
)
DIGITS = sys.get_int_max_str_digits() or 4300
NUMBER_TOKENS = [
    b"-0", b"-0.0", b"0e999999", b"1E2", b"1e-400", b"-1e-400", b"1e400", b"-1e400", b"1.0",
    b"-1", b"3", b"2.5", b"1e0", b"100", b"-50.0", b"24.000000000000004", b"NaN", b"-Infinity",
    str(2**1024 - 2**970).encode(), str(2**1024 - 2**970 - 1).encode(), str(2**64).encode(),
    str(2**63).encode(), str(-(2**63) - 1).encode(), str(2**53 + 1).encode(),
    b"1" * DIGITS, b"9" * (DIGITS + 1), b"-" + b"1" * (DIGITS + 1), b"1" * (DIGITS + 1) + b".5",
]  # fmt: skip
TEXT_TOKENS = [
    b'"\xc3\xa9t\xc3\xa9"', b'"\xff"', b'"\xed\xa0\x80"', b'"\xc3"', b'"\\ud800"', b'"\\udfff x"',
    b'"\\ud83d\\ude00"', b'"\\u00e9"', b'"EWR"', b'"red"', b'"\\u0000"', b'"2024-01-01T00:00:00Z"',
    b'"2024-01-01T00:00:00+02:00"', b"true", b"false", b"null", b"[]", b"{}", b'[1e400, "\\ud800"]',
]  # fmt: skip
RAW_TOKENS = st.sampled_from(NUMBER_TOKENS + TEXT_TOKENS)
SKIPPED_TOKENS = st.sampled_from(  # what msgspec reads where the stdlib does not
    [
        b'"\xff"',
        b'"a\xed\xa0\x80"',
        b'["\xc3"]',
        b"9" * (DIGITS + 1),
        b"[-" + b"1" * (DIGITS + 1) + b"]",
    ]
)


def typed(values: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    """Values with their types (1 and 1.0 are not the same typing; nor 0.0 and -0.0)."""
    return {
        name: (type(value), repr(value) if isinstance(value, float) else value)
        for name, value in values.items()
    }


def value_text(draw: st.DrawFn, value: Any) -> bytes:
    """One JSON value, spelled one of the ways a producer might."""
    way = draw(st.integers(0, 19))
    if way == 0:
        return draw(RAW_TOKENS)  # in place of the value: anything
    if type(value) is int and way == 1:
        return (
            b"-0"
            if value == 0
            else str(value).encode() + draw(st.sampled_from([b".0", b"e0", b"E+00"]))
        )
    if type(value) is float and value == value and abs(value) != float("inf") and way == 1:
        return format(value, draw(st.sampled_from([".17e", ".17E", ".3f"]))).encode()
    if isinstance(value, str) and way == 2:  # raw UTF-8, surrogates as their (invalid) bytes
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


@st.composite
def written(draw: st.DrawFn, record: dict[str, Any]) -> bytes:
    """``record`` as JSON text by hand: odd spellings, repeated and unknown keys."""
    items = []
    for key, value in record.items():
        name = json.dumps(key).encode()
        if draw(st.integers(0, 9)) == 0:  # the same key, escaped
            name = b'"' + b"".join(b"\\u%04x" % ord(c) for c in key) + b'"'
        if draw(st.integers(0, 14)) == 0:  # a first value the second replaces
            items.append(name + b": " + value_text(draw, draw(ANY_VALUE)))
        items.append(name + b": " + value_text(draw, value))
    if draw(st.booleans()):  # an unknown key (msgspec skips its value unread)
        at = draw(st.integers(0, len(items)))
        items.insert(at, b'"note": ' + draw(SKIPPED_TOKENS | RAW_TOKENS))
    return b"{" + draw(st.sampled_from([b", ", b",", b" ,\n "])).join(items) + b"}"


@st.composite
def messages(draw: st.DrawFn, spec: PipelineSpec) -> list[bytes | None]:
    out: list[bytes | None] = []
    for _ in range(draw(st.integers(1, 10))):
        choice = draw(st.integers(0, 19))
        if choice == 0:
            out.append(draw(NOT_OBJECTS))
        elif choice == 1:
            out.append(None if draw(st.booleans()) else json.dumps(draw(ANY_VALUE)).encode())
        else:
            record = draw(records(spec, any_label=choice == 2))
            by_hand = draw(st.booleans())
            out.append(draw(written(record)) if by_hand else json.dumps(record).encode())
    return out


@SETTINGS
@given(st.data())
def test_a_run_is_accepted_and_refused_exactly_as_record_by_record(data: st.DataObject) -> None:
    spec = data.draw(specs())
    values = data.draw(messages(spec))
    offsets = list(range(100, 100 + len(values)))
    checkers = []
    for one_by_one, give_up in PATHS:
        checker = BatchChecker(spec)
        checker.one_by_one, checker.give_up = one_by_one, give_up
        checkers.append(checker)
    try:
        expected = {o: validate_record(spec, raw) for o, raw in zip(offsets, values, strict=True)}
    except OverflowError:
        # A known bug of the contract, not of the batch check: parse_event_time's
        # astimezone(UTC) raises for a time whose UTC reading leaves datetime's range
        # ("0001-01-01T00:00:00+02:34:48") instead of refusing it. Same for the batch.
        for checker in checkers:
            with pytest.raises(OverflowError):
                checker.check(3, offsets, values)
        return
    for checker in checkers:
        assert_run_is(expected, checker.check(3, offsets, values))


PATHS = [(32, 16), (-1, 16), (-1, -1)]
"""Where what the strict struct refuses goes: record by record (the default for runs this
small); to the loose struct's column checks; there, with the rest of the run too as soon
as refusals are a fifth of it (as when most of a long run is refused strictly)."""


def assert_run_is(expected: dict[int, ValidRow | list[Problem]], run: CheckedRun) -> None:
    accepted = {o: r for o, r in expected.items() if isinstance(r, ValidRow)}
    assert run.offsets == list(accepted)
    rows = run.rows.to_pylist()
    assert [row.pop(SOURCE_OFFSET) for row in rows] == list(accepted)
    assert {row.pop(SOURCE_PARTITION) for row in rows} <= {3}
    for row, valid in zip(rows, accepted.values(), strict=True):
        assert typed(row) == typed(valid.values)

    refused = [(o, r) for o, r in expected.items() if not isinstance(r, ValidRow)]
    assert [r.offset for r in run.rejected] == [offset for offset, _ in refused]
    for (_, _, got), (_, want) in zip(run.rejected, refused, strict=True):
        # ``input`` aside (NaN is not equal to itself): field, code, kind and message.
        assert [(p.field, p.code, p.kind, p.message) for p in got] == [
            (p.field, p.code, p.kind, p.message) for p in want
        ]


def test_an_unpaired_surrogate_is_refused_alone_not_retried_forever() -> None:
    # Arrow cannot encode it: the batch once failed at the write and was re-read forever.
    spec = PipelineSpec.model_validate(
        {
            "name": "demo",
            "source_topic": "demo.events",
            "task": "binary_classification",
            "schema": {
                "features": [
                    {"name": "x", "type": "numeric"},
                    {"name": "carrier", "type": "categorical"},
                ],
                "target": {"name": "y"},
                "event_time": "ts",
                "entity_id": "id",
            },
            "model": {"estimator": "LogisticRegression"},
            "promotion": {"metric": "roc_auc"},
        }
    )
    good = {"x": 1.0, "carrier": "AA", "y": 1, "ts": "2026-01-01T00:00:00Z", "id": "a"}
    values = [
        json.dumps(good).encode(),
        json.dumps({**good, "carrier": "AA\ud800"}).encode(),  # JSON spells the surrogate
        json.dumps({**good, "id": "b\udfff"}).encode(),
        json.dumps({**good, "id": "c"}).encode(),
    ]
    assert b"\\ud800" in values[1]
    run = BatchChecker(spec).check(0, [10, 11, 12, 13], values)
    assert run.offsets == [10, 13]
    assert [(r.offset, [(p.field, p.kind) for p in r.problems]) for r in run.rejected] == [
        (11, [("carrier", "string_unicode")]),
        (12, [("id", "string_unicode")]),
    ]
    for offset, raw in zip([10, 11, 12, 13], values, strict=True):
        assert isinstance(validate_record(spec, raw), ValidRow) == (offset in (10, 13))
