"""Ingest's batch check decides like the per-record contract, record for record (property).

The same generated specs and records as ``test_record_contract`` (bounds, closed sets,
nullability, entity ids, label domains, and values of every JSON type, big integers,
NaN and infinities included), plus messages that are not JSON objects, are checked
both ways: one by one with ``validate_record`` (the reference: ``check_record`` on the
stdlib decoder's output) and as one run with :class:`BatchChecker`. Same rows accepted
with the same typed values; same rows refused with the same problems in the same order.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from continuum.contracts import PipelineSpec
from continuum.ingest.batch_check import BatchChecker
from continuum.ingest.parquet_batch import SOURCE_OFFSET, SOURCE_PARTITION
from continuum.ingest.validation import ValidRow, validate_record
from tests.test_record_contract import ANY_VALUE, records, specs

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOT_OBJECTS = st.sampled_from(
    [b"", b"[1]", b"null", b"{", b'{"a": 1,}', b"\xff\xfe", b'{"x": "\\ud800"}', b"\xef\xbb\xbf{}"]
)


def typed(values: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    """Values with their types (1 and 1.0 are not the same typing)."""
    return {name: (type(value), value) for name, value in values.items()}


@st.composite
def messages(draw: st.DrawFn, spec: PipelineSpec) -> list[bytes | None]:
    out: list[bytes | None] = []
    for _ in range(draw(st.integers(1, 8))):
        choice = draw(st.integers(0, 19))
        if choice == 0:
            out.append(draw(NOT_OBJECTS))
        elif choice == 1:
            out.append(None if draw(st.booleans()) else json.dumps(draw(ANY_VALUE)).encode())
        else:
            out.append(json.dumps(draw(records(spec, any_label=choice == 2))).encode())
    return out


@SETTINGS
@given(st.data())
def test_a_run_is_accepted_and_refused_exactly_as_record_by_record(data: st.DataObject) -> None:
    spec = data.draw(specs())
    values = data.draw(messages(spec))
    offsets = list(range(100, 100 + len(values)))
    run = BatchChecker(spec).check(3, offsets, values)

    expected = {
        offset: validate_record(spec, raw) for offset, raw in zip(offsets, values, strict=True)
    }
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
