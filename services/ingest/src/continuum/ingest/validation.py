"""Validating one source record against a pipeline's schema (pure: no I/O, no clocks).

A record is a JSON object. :func:`validate_record` returns either a :class:`ValidRow`
(typed values, ready for Parquet) or every :class:`Problem` found (not just the first),
so a producer fixing its data sees all its mistakes at once.

Decisions (documented here because producers depend on them):

* Unknown extra keys are ignored (producers may add fields before the spec does).
* A feature that is absent or ``null`` is a null value when the feature is ``nullable``,
  else it is refused with code ``missing``.
* Numeric features accept JSON numbers only. Booleans are refused (``true`` is not 1)
  and so are strings that look numeric (``"3.5"``): coercing them would hide producer
  bugs and would let ``"NaN"``/``"inf"`` in by the back door. NaN and +/-inf (which
  Python's JSON parser accepts as ``NaN``/``Infinity`` literals) are refused with code
  ``nonfinite``. ``min``/``max`` are inclusive.
* Categorical features accept strings only (numbers are refused, not stringified: the
  closed ``values`` list is strings and serving must see the same values).
* The target may be absent or ``null`` (the row is unlabelled). For regression it must
  be a finite number; for binary classification a boolean or an integer (``1.0`` counts
  as ``1``), stored as an integer (``true`` -> 1), so every batch has the same label type.
* The event time must be an ISO-8601 string; a naive time is taken as UTC.
* The entity id (when the spec names one) is optional; a string or an integer (stored as
  its decimal string).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from continuum.contracts import CategoricalFeature, NumericFeature, PipelineSpec, RejectionReason

WHOLE_RECORD: Final = "$"
"""The field name of a problem with the record as a whole (not JSON, not an object)."""

# Reason codes: short, stable, used as a metric label.
JSON: Final = "json"
TYPE: Final = "type"
MISSING: Final = "missing"
RANGE: Final = "range"
NONFINITE: Final = "nonfinite"
CATEGORY: Final = "category"
TIME: Final = "time"

Value = float | int | str | datetime | None


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a record is refused: the field, a short code and a human message."""

    field: str
    code: str
    message: str

    def to_reason(self) -> RejectionReason:
        """The contract form: ``reason`` is ``"<code>: <message>"``."""
        return RejectionReason(field=self.field, reason=f"{self.code}: {self.message}")


@dataclass(frozen=True, slots=True)
class ValidRow:
    """A record that passed: typed values by column name, plus what batches summarise."""

    values: dict[str, Value]
    event_time: datetime
    labelled: bool


@dataclass(slots=True)
class _Checker:
    problems: list[Problem] = field(default_factory=list)

    def refuse(self, name: str, code: str, message: str) -> None:
        self.problems.append(Problem(name, code, message))


def parse_json_object(raw: bytes | None) -> dict[str, Any] | Problem:
    """Decode ``raw`` as a UTF-8 JSON object, or say why not."""
    if raw is None:
        return Problem(WHOLE_RECORD, JSON, "empty message (null value)")
    try:
        # NaN/Infinity literals (not JSON, but Python accepts them) become floats here, so
        # the numeric rule refuses them naming the field rather than the whole record.
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Problem(WHOLE_RECORD, JSON, f"not UTF-8: {exc.reason} at byte {exc.start}")
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        return Problem(WHOLE_RECORD, JSON, f"not JSON: {exc}"[:300])
    if not isinstance(data, dict):
        return Problem(WHOLE_RECORD, TYPE, f"expected a JSON object, got {type(data).__name__}")
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric(check: _Checker, feature: NumericFeature, value: Any) -> float | None:
    name = feature.name
    if value is None:
        if not feature.nullable:
            check.refuse(name, MISSING, "required numeric feature is absent or null")
        return None
    if not _is_number(value):
        check.refuse(name, TYPE, f"expected a number, got {type(value).__name__}")
        return None
    try:
        number = float(value)
    except OverflowError:
        check.refuse(name, RANGE, "integer too large for a 64-bit float")
        return None
    if not math.isfinite(number):
        check.refuse(name, NONFINITE, f"{number} is not a finite number")
        return None
    if feature.min is not None and number < feature.min:
        check.refuse(name, RANGE, f"{value} is below the minimum {feature.min}")
        return None
    if feature.max is not None and number > feature.max:
        check.refuse(name, RANGE, f"{value} is above the maximum {feature.max}")
        return None
    return number


def _categorical(check: _Checker, feature: CategoricalFeature, value: Any) -> str | None:
    name = feature.name
    if value is None:
        if not feature.nullable:
            check.refuse(name, MISSING, "required categorical feature is absent or null")
        return None
    if not isinstance(value, str):
        check.refuse(name, TYPE, f"expected a string, got {type(value).__name__}")
        return None
    if feature.values is not None and value not in feature.values:
        shown = ", ".join(feature.values[:20]) + (" ..." if len(feature.values) > 20 else "")
        check.refuse(name, CATEGORY, f"{value[:100]!r} is not one of [{shown}]")
        return None
    return value


def _target(check: _Checker, spec: PipelineSpec, value: Any) -> float | int | None:
    name = spec.record_schema.target.name
    if value is None:
        return None  # not labelled yet
    if spec.task == "regression":
        if not _is_number(value):
            check.refuse(name, TYPE, f"expected a number, got {type(value).__name__}")
            return None
        try:
            number = float(value)
        except OverflowError:
            check.refuse(name, RANGE, "integer too large for a 64-bit float")
            return None
        if not math.isfinite(number):
            check.refuse(name, NONFINITE, f"{number} is not a finite number")
            return None
        return number
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    check.refuse(name, TYPE, f"expected a boolean or integer label, got {value!r}"[:200])
    return None


def parse_event_time(value: Any) -> datetime | str:
    """An aware UTC datetime from an ISO-8601 string, or the reason it is not one."""
    if not isinstance(value, str):
        return f"expected an ISO-8601 string, got {type(value).__name__}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"{value[:100]!r} is not an ISO-8601 timestamp"
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _entity(check: _Checker, name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    check.refuse(name, TYPE, f"expected a string or integer id, got {type(value).__name__}")
    return None


def validate_object(spec: PipelineSpec, record: dict[str, Any]) -> ValidRow | list[Problem]:
    """Check a decoded record against ``spec``: a typed row, or every problem found."""
    schema = spec.record_schema
    check = _Checker()
    values: dict[str, Value] = {}
    for feature in schema.features:
        raw = record.get(feature.name)
        if isinstance(feature, NumericFeature):
            values[feature.name] = _numeric(check, feature, raw)
        else:
            values[feature.name] = _categorical(check, feature, raw)
    target = _target(check, spec, record.get(schema.target.name))
    values[schema.target.name] = target
    event_time: datetime | None = None
    raw_time = record.get(schema.event_time)
    if raw_time is None:
        check.refuse(schema.event_time, MISSING, "event time is absent or null")
    else:
        parsed = parse_event_time(raw_time)
        if isinstance(parsed, str):
            check.refuse(schema.event_time, TIME, parsed)
        else:
            event_time = parsed
    values[schema.event_time] = event_time
    if schema.entity_id:
        values[schema.entity_id] = _entity(check, schema.entity_id, record.get(schema.entity_id))
    if check.problems or event_time is None:
        return check.problems
    return ValidRow(values=values, event_time=event_time, labelled=target is not None)


def validate_record(spec: PipelineSpec, raw: bytes | None) -> ValidRow | list[Problem]:
    """Decode and check one Kafka message value against ``spec``."""
    parsed = parse_json_object(raw)
    if isinstance(parsed, Problem):
        return [parsed]
    return validate_object(spec, parsed)
