"""The per-column rules of the record contract, and the problems they report.

Internal to :mod:`continuum.contracts.record_check` (which documents the contract and is
what services use); kept apart so each module stays small. Every rule is compiled from
the spec once and then checks one value per record, returning the typed value or a
:class:`RecordProblem`, never raising: the checker collects every problem of a record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from continuum.contracts.events_data import RejectionReason
from continuum.contracts.record_schema import CategoricalFeature

WHOLE_RECORD: Final = "$"
"""The field name of a problem with the record as a whole (not JSON, not an object)."""

# Problem codes: short, stable, used as a metric label and in rejection reasons.
JSON: Final = "json"
TYPE: Final = "type"
MISSING: Final = "missing"
RANGE: Final = "range"
NONFINITE: Final = "nonfinite"
CATEGORY: Final = "category"
TIME: Final = "time"
LABEL: Final = "label"


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()
"""The ``input`` of a problem whose key was not in the record at all."""

RecordValue = float | int | str | datetime | None


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """One reason a record is refused: field, stable code, pydantic-style kind, message."""

    field: str
    code: str
    kind: str
    message: str
    input: Any = ABSENT

    def to_reason(self) -> RejectionReason:
        """The contract form: ``reason`` is ``"<code>: <message>"``."""
        return RejectionReason(field=self.field, reason=f"{self.code}: {self.message}")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def missing_value(name: str, value: Any) -> RecordProblem:
    """The problem of a required column that is absent (``ABSENT``) or ``null``."""
    if value is ABSENT:
        return RecordProblem(name, MISSING, "missing", "Field required")
    return RecordProblem(name, MISSING, "null", "Field may not be null", None)


def _as_float(name: str, value: Any) -> float | RecordProblem:
    """A finite float from a JSON number (not a bool), or the problem."""
    kind = type(value)
    # Exact types first (the hot path); then subclasses, but never bool (``true`` is not 1).
    if (kind is not float and kind is not int) and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        message = f"Input should be a valid number, not {_type_name(value)}"
        return RecordProblem(name, TYPE, "float_type", message, value)
    try:
        number = float(value)
    except OverflowError:
        message = "Input should be a number that fits a 64-bit float"
        return RecordProblem(name, RANGE, "finite_number", message, value)
    if not math.isfinite(number):
        message = f"Input should be a finite number, not {number}"
        return RecordProblem(name, NONFINITE, "finite_number", message, value)
    return number


def _number_text(number: float | None) -> str:
    # Whole numbers without ".0"; others exactly (``:g`` would show 5000.0001 as 5000).
    if number is not None and number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return repr(number)


def _out_of_bounds(
    name: str, number: float, low: float | None, high: float | None, code: str, what: str
) -> RecordProblem:
    got = _number_text(number)
    if low is not None and number < low:
        message = f"Input should be greater than or equal to the {what}minimum {_number_text(low)}"
        return RecordProblem(name, code, "greater_than_equal", f"{message}, got {got}", number)
    message = f"Input should be less than or equal to the {what}maximum {_number_text(high)}"
    return RecordProblem(name, code, "less_than_equal", f"{message}, got {got}", number)


class ColumnRule:
    """One column's rule, compiled from the spec once (``typed`` runs per present value)."""

    __slots__ = ("name", "nullable")

    def __init__(self, name: str, nullable: bool) -> None:
        self.name = name
        self.nullable = nullable

    def typed(self, value: Any) -> Any:
        """The typed form of a non-null value, or a :class:`RecordProblem` (never raises)."""
        raise NotImplementedError


class NumericRule(ColumnRule):
    """A JSON number (not a bool), finite, within the optional inclusive bounds."""

    __slots__ = ("high", "low")
    code: ClassVar[str] = RANGE
    what: ClassVar[str] = ""

    def __init__(self, name: str, nullable: bool, low: float | None, high: float | None) -> None:
        super().__init__(name, nullable)
        self.low, self.high = low, high

    def typed(self, value: Any) -> Any:
        if type(value) is float and math.isfinite(value):  # the common case, checked inline
            number = value
        else:
            checked = _as_float(self.name, value)
            if isinstance(checked, RecordProblem):
                return checked
            number = checked
        low, high = self.low, self.high
        if (low is not None and number < low) or (high is not None and number > high):
            return _out_of_bounds(self.name, number, low, high, self.code, self.what)
        return number


class CategoricalRule(ColumnRule):
    """A string, one of ``values`` when the spec closes the set."""

    __slots__ = ("allowed", "allowed_text")

    def __init__(self, feature: CategoricalFeature) -> None:
        super().__init__(feature.name, feature.nullable)
        values = feature.values
        self.allowed = frozenset(values) if values is not None else None
        self.allowed_text = _one_of(values or [])

    def typed(self, value: Any) -> Any:
        if not isinstance(value, str):
            message = f"Input should be a valid string, not {_type_name(value)}"
            return RecordProblem(self.name, TYPE, "string_type", message, value)
        if not _is_text(value):
            return _not_text(self.name, value)
        if self.allowed is not None and value not in self.allowed:
            message = f"Input should be {self.allowed_text}, got {value[:100]!r}"
            return RecordProblem(self.name, CATEGORY, "enum", message, value)
        return value


def _is_text(value: str) -> bool:
    """Whether ``value`` can be stored as UTF-8: JSON may spell an unpaired surrogate
    (``"\\ud800"``), which no Parquet file, Kafka header or HTTP body can carry."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_text(name: str, value: str) -> RecordProblem:
    message = "Input should be valid Unicode text, got an unpaired surrogate (\\ud800-\\udfff)"
    shown = value.encode("utf-8", "replace").decode()  # the surrogate as "?"
    return RecordProblem(name, TYPE, "string_unicode", message, shown)


def _one_of(values: list[str]) -> str:
    """Pydantic's wording: ``'a', 'b' or 'c'`` (the first 20 of a long list)."""
    shown = [repr(v) for v in values[:20]]
    if len(values) > 20:
        return ", ".join(shown) + f" or one of {len(values) - 20} more"
    if len(shown) < 2:
        return shown[0] if shown else "one of no values (the spec's list is empty)"
    return ", ".join(shown[:-1]) + " or " + shown[-1]


class BinaryLabelRule(ColumnRule):
    """A boolean or integral number, typed as an int, one of the target's two classes."""

    __slots__ = ("classes",)

    def __init__(self, name: str, classes: tuple[int, int]) -> None:
        super().__init__(name, nullable=True)  # no label yet is fine
        self.classes = classes

    def typed(self, value: Any) -> Any:
        if isinstance(value, bool):
            label = int(value)
        elif isinstance(value, int):
            label = value
        elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
            label = int(value)
        else:
            message = f"Input should be a boolean or an integer label, got {value!r}"[:200]
            return RecordProblem(self.name, TYPE, "int_type", message, value)
        if label not in self.classes:
            low, high = self.classes
            message = f"Input should be one of the classes {low} or {high} (schema.target.classes)"
            return RecordProblem(self.name, LABEL, "enum", f"{message}, got {label}", value)
        return label


class RegressionLabelRule(NumericRule):
    """A numeric rule on the target: outside its bounds is code ``label``."""

    __slots__ = ()
    code: ClassVar[str] = LABEL
    what: ClassVar[str] = "target "


class EventTimeRule(ColumnRule):
    """An ISO-8601 string, typed as an aware UTC datetime."""

    __slots__ = ()

    def typed(self, value: Any) -> Any:
        parsed = parse_event_time(value)
        if isinstance(parsed, datetime):
            return parsed
        kind = "datetime_parsing" if isinstance(value, str) else "datetime_type"
        return RecordProblem(self.name, TIME, kind, parsed, value)


class EntityIdRule(ColumnRule):
    """A string or an integer (typed as its decimal string)."""

    __slots__ = ()

    def typed(self, value: Any) -> Any:
        if isinstance(value, str):
            return value if _is_text(value) else _not_text(self.name, value)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        message = f"Input should be a string or an integer id, not {_type_name(value)}"
        return RecordProblem(self.name, TYPE, "string_type", message, value)


def parse_event_time(value: Any) -> datetime | str:
    """An aware UTC datetime from an ISO-8601 string (naive = UTC), or why it is not one."""
    if not isinstance(value, str):
        return f"Input should be an ISO-8601 datetime string, not {_type_name(value)}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return f"Input should be an ISO-8601 datetime, got {value[:100]!r}"
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+02:00 is before year 1 in UTC
        return f"Input should be a datetime that exists in UTC, got {value[:100]!r}"
