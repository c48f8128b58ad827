"""The run decoder: one bad message among good ones is refused alone, with the reference
decoder's reason; a message only the fast decoder refuses is still judged by the rules."""

from __future__ import annotations

import json
import sys

from ingest_testkit import good, make_spec

from continuum.ingest.batch_check import BatchChecker
from continuum.ingest.validation import ValidRow, validate_record


def encoded(record: dict[str, object]) -> bytes:
    return json.dumps(record).encode()


def test_one_bad_message_in_a_run_is_refused_alone_with_its_reason() -> None:
    spec = make_spec()
    values: list[bytes | None] = [encoded(good(flight_id=f"UA{i}")) for i in range(50)]
    values[17] = b'{"distance": 1089'
    values[31] = None
    values[40] = encoded(good(distance="1089"))
    run = BatchChecker(spec).check(0, list(range(50)), values)

    assert [r.offset for r in run.rejected] == [17, 31, 40]
    assert run.offsets == [i for i in range(50) if i not in (17, 31, 40)]
    for refused in run.rejected:
        reference = validate_record(spec, refused.value)
        assert isinstance(reference, list)
        assert [(p.field, p.code, p.message) for p in refused.problems] == [
            (p.field, p.code, p.message) for p in reference
        ]
    assert run.rows.column("flight_id").to_pylist() == [f"UA{i}" for i in run.offsets]


def test_a_message_only_the_fast_decoder_refuses_is_judged_by_the_rules() -> None:
    spec = make_spec()
    # An unknown key with an unpaired surrogate: msgspec refuses the message, the
    # reference decoder reads it, the rules accept it. An unknown key with a number
    # beyond float64 is skipped unread; a big integer in a column is read as one.
    odd = [
        b'{"note": "\\ud800", ' + encoded(good())[1:],
        b'{"note": 1e400, ' + encoded(good())[1:],
        encoded(good(distance=10**30 // 10**27)),  # a big integer, within range
    ]
    values = [encoded(good()), *odd, encoded(good())]
    run = BatchChecker(spec).check(0, list(range(len(values))), values)
    for raw in values:
        assert isinstance(validate_record(spec, raw), ValidRow)
    assert run.rejected == []
    assert run.offsets == list(range(len(values)))
    assert run.rows.column("distance").to_pylist() == [1089.0, 1089.0, 1089.0, 1000.0, 1089.0]


def test_what_msgspec_skips_unread_is_still_refused_like_the_reference_decoder() -> None:
    # msgspec skips an unknown key's value without checking its UTF-8 or converting its
    # integers; the stdlib refuses the whole message (not UTF-8; more digits than Python
    # converts). Before the suspects scan, the run accepted both.
    spec = make_spec()
    long_int = b"9" * (sys.get_int_max_str_digits() + 1)
    odd = [
        b'{"note": "\xff", ' + encoded(good())[1:],
        b'{"note": [' + long_int + b"], " + encoded(good())[1:],
        b'{"note": "caf\xc3\xa9", ' + encoded(good())[1:],  # UTF-8, not ASCII: fine
    ]
    values: list[bytes | None] = [encoded(good()), *odd, None, encoded(good())]
    run = BatchChecker(spec).check(0, list(range(len(values))), values)

    assert run.offsets == [0, 3, 5]
    assert [r.offset for r in run.rejected] == [1, 2, 4]
    for refused in run.rejected:
        reference = validate_record(spec, refused.value)
        assert isinstance(reference, list)
        assert [(p.field, p.code, p.message) for p in refused.problems] == [
            (p.field, p.code, p.message) for p in reference
        ]
    assert run.rejected[0].problems[0].message.startswith("not UTF-8")
    assert "Exceeds the limit" in run.rejected[1].problems[0].message
