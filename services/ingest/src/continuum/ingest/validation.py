"""Validating one source record against a pipeline's schema (pure: no I/O, no clocks).

The rules are the one record contract in :mod:`continuum.contracts.record_check`, shared
with serving so the model is only ever asked about inputs like the ones it was trained
on. Ingest applies it in full: the event time is required (training orders and windows
rows by it) and the target is checked against its domain (a label outside the spec's
``classes`` or ``min``/``max`` is refused with code ``label``), so a bad label is
quarantined here instead of failing every later training run.

:func:`validate_record` decodes a Kafka message value and returns either a
:class:`ValidRow` (typed values, ready for Parquet) or every :class:`Problem` found;
a message that is not a UTF-8 JSON object is one problem on the whole record (``$``).
The engine checks with the pipeline entry's compiled checker (:func:`check_message`);
:func:`validate_record` compiles one for a single record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from continuum.contracts import (
    WHOLE_RECORD,
    PipelineSpec,
    RecordChecker,
    RecordProblem,
    RecordValue,
    parse_event_time,
)

__all__ = [
    "WHOLE_RECORD",
    "Problem",
    "ValidRow",
    "check_message",
    "ingest_checker",
    "parse_event_time",
    "parse_json_object",
    "validate_object",
    "validate_record",
]

Problem = RecordProblem
"""One reason a record is refused (``field``, stable ``code``, ``message``)."""

JSON: Final = "json"
TYPE: Final = "type"


@dataclass(frozen=True, slots=True)
class ValidRow:
    """A record that passed: typed values by column name, plus what batches summarise."""

    values: dict[str, RecordValue]
    event_time: datetime
    labelled: bool


def ingest_checker(spec: PipelineSpec) -> RecordChecker:
    """The record contract as ingest applies it: event time required, target checked."""
    return RecordChecker(spec, require_event_time=True, check_target=True)


def parse_json_object(raw: bytes | None) -> dict[str, Any] | Problem:
    """Decode ``raw`` as a UTF-8 JSON object, or say why not."""
    if raw is None:
        return Problem(WHOLE_RECORD, JSON, "json_invalid", "empty message (null value)")
    try:
        # NaN/Infinity literals (not JSON, but Python accepts them) become floats here, so
        # the numeric rule refuses them naming the field rather than the whole record.
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        message = f"not UTF-8: {exc.reason} at byte {exc.start}"
        return Problem(WHOLE_RECORD, JSON, "json_invalid", message)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        return Problem(WHOLE_RECORD, JSON, "json_invalid", f"not JSON: {exc}"[:300])
    if not isinstance(data, dict):
        message = f"expected a JSON object, got {type(data).__name__}"
        return Problem(WHOLE_RECORD, TYPE, "dict_type", message)
    return data


def _valid_row(checker: RecordChecker, record: dict[str, Any]) -> ValidRow | list[Problem]:
    result = checker.check(record)
    if isinstance(result, list):
        return result
    assert result.event_time is not None  # required by the ingest checker
    return ValidRow(values=result.values, event_time=result.event_time, labelled=result.labelled)


def check_message(checker: RecordChecker, raw: bytes | None) -> ValidRow | list[Problem]:
    """Decode one Kafka message value and check it with an :func:`ingest_checker`."""
    parsed = parse_json_object(raw)
    if isinstance(parsed, RecordProblem):
        return [parsed]
    return _valid_row(checker, parsed)


def validate_object(spec: PipelineSpec, record: dict[str, Any]) -> ValidRow | list[Problem]:
    """Check a decoded record against ``spec``: a typed row, or every problem found."""
    return _valid_row(ingest_checker(spec), record)


def validate_record(spec: PipelineSpec, raw: bytes | None) -> ValidRow | list[Problem]:
    """Decode and check one Kafka message value against ``spec``."""
    return check_message(ingest_checker(spec), raw)
