"""The columns of a run for :mod:`continuum.ingest.batch_check`: typed Arrow arrays and
the rows each column's rule refuses.

Two kinds of rows, two kinds of column:

* **strict** rows decoded under the strict struct, whose field types come from the
  compiled rules (:func:`strict_type`): ``msgspec`` has then checked in C what the rule
  checks (a JSON number and not a bool, within float64 and the inclusive bounds; a string
  of the closed set; an integer label of the target's classes; a column that may not be
  null present and not null), so :func:`strict_column` only converts, except event
  times (``datetime.fromisoformat``) and float or boolean labels, typed by their rule
  once per distinct value, and integer ids (their decimal string);
* **loose** rows (any other message), decoded with every column typed ``Any``:
  :func:`loose_column` checks each column over all rows: numbers with numpy (finite,
  inclusive bounds), strings with Arrow, any other value through the rule's ``typed``.

:func:`in_run_order` puts the kept rows of both kinds back in the run's order, and
:func:`msgspec_only` finds the messages ``msgspec`` would read where the reference
decoder refuses them (so that neither struct reads them).
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from continuum.contracts import RecordProblem
from continuum.contracts.record_rules import (
    BinaryLabelRule,
    CategoricalRule,
    ColumnRule,
    EntityIdRule,
    EventTimeRule,
    NumericRule,
)

_NUMBERS = frozenset({float, int, type(None)})
_INTS = frozenset({int, type(None)})
_STRINGS = frozenset({str, type(None)})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NEVER: Any = Annotated[float, msgspec.Meta(ge=1.0, le=0.0)]
"""A type no JSON value decodes as (a rule that refuses every value)."""
_ARROW_TYPE_ERRORS = (pa.ArrowTypeError, pa.ArrowInvalid)

Column = tuple[pa.Array, np.ndarray | None]
"""A column's typed array (null where refused) and its refused rows (None: none)."""


def strict_type(rule: ColumnRule) -> Any | None:
    """The type ``msgspec`` decodes ``rule``'s column as (``None``: none, the run is
    checked loosely). Every value it accepts the rule accepts, typed the same, but for
    what :func:`strict_column` still types: event times, integer ids, non-int labels."""
    kind: Any
    if isinstance(rule, NumericRule):  # the regression target too
        kind = _number(rule.low, rule.high)
        if kind is None:
            return None
    elif isinstance(rule, CategoricalRule):
        values = sorted(rule.allowed) if rule.allowed is not None else None
        kind = str if values is None else Literal[tuple(values)] if values else _NEVER
    elif isinstance(rule, BinaryLabelRule):
        kind = Literal[rule.classes]
        if all(abs(label) <= 2**53 for label in rule.classes):
            kind = kind | float  # 1.0 is 1 (typed below), as is an int beyond uint64
        if 0 in rule.classes and 1 in rule.classes:
            kind = kind | bool  # true is 1, false 0
    elif isinstance(rule, EventTimeRule):
        kind = str  # parsed below, by the rule
    elif isinstance(rule, EntityIdRule):
        kind = str | int
    else:
        return None
    return kind | None if rule.nullable else kind


def _number(low: Any, high: Any) -> Any | None:
    """A finite JSON number (int or float, read as ``float(v)``) within the bounds."""
    bounds: list[float | None] = []
    for bound, open_end in ((low, -math.inf), (high, math.inf)):
        if bound is not None and type(bound) is not float:
            return None  # an int bound compares exactly in Python, not as a float
        if bound is None or math.isnan(bound) or bound == open_end:
            bounds.append(None)  # never refuses (v < nan is false)
        elif math.isinf(bound):
            return _NEVER  # refuses every finite number
        else:
            bounds.append(bound)
    ge, le = bounds
    return float if ge is None and le is None else Annotated[float, msgspec.Meta(ge=ge, le=le)]


def msgspec_only(values: Sequence[bytes | None]) -> set[int]:
    """The messages ``msgspec`` may read where the reference decoder refuses them (it
    skips an unknown key's value unchecked): not ASCII and not UTF-8, or with a digit run
    longer than Python converts to an int. Two scans in C when there are none."""
    try:
        ascii_ = all(map(bytes.isascii, values))  # type: ignore[arg-type]
        longest = max(map(len, values), default=0)  # type: ignore[arg-type]
    except TypeError:  # a None (refused whatever the others hold), or not bytes
        return msgspec_only([b"" if raw is None else bytes(raw) for raw in values])
    found: set[int] = set()
    if not ascii_:
        found.update(i for i, raw in enumerate(values) if not _is_utf8(raw))
    limit = sys.get_int_max_str_digits()
    if limit and longest > limit:
        digits = re.compile(rb"[0-9]{%d}" % (limit + 1)).search
        found.update(i for i, raw in enumerate(values) if digits(raw))  # type: ignore[arg-type]
    return found


def _is_utf8(raw: Any) -> bool:
    if raw.isascii():
        return True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def strict_column(rule: ColumnRule, column: list[Any], arrow_type: pa.DataType) -> Column:
    """A strictly decoded column as Arrow (only event times can still be refused)."""
    if isinstance(rule, NumericRule):
        return pa.array(column, pa.float64()), None  # finite floats and None
    if isinstance(rule, BinaryLabelRule):
        if set(map(type, column)) <= _INTS:
            return pa.array(column, pa.int64()), None
        # Floats and booleans typed by the rule, once per value: 1, 1.0 and true are one
        # key and, as labels, one typing (an integral float outside the classes refused).
        once = {value: rule.typed(value) for value in set(column) if value is not None}
        out = list(map(once.get, column))
        if not any(type(label) is RecordProblem for label in once.values()):
            return pa.array(out, pa.int64()), None
        flagged = np.fromiter((type(label) is RecordProblem for label in out), bool, len(out))
        out = [None if bad else label for label, bad in zip(out, flagged.tolist(), strict=True)]
        return pa.array(out, pa.int64()), flagged
    if isinstance(rule, EventTimeRule):  # strings only: typed once per distinct value
        array, flagged = by_rule(rule, column, arrow_type, strings=True)
        return array, flagged if flagged.any() else None
    try:
        return pa.array(column, pa.string()), None
    except _ARROW_TYPE_ERRORS:  # integer ids, typed as their decimal string
        return pa.array([str(v) if type(v) is int else v for v in column], pa.string()), None


def in_run_order(
    parts: list[tuple[np.ndarray, list[pa.Array]]], types: list[pa.DataType]
) -> tuple[np.ndarray, list[pa.Array]]:
    """The rows of the parts (their positions in the run, their columns) in run order."""
    if not parts:
        return np.zeros(0, np.int64), [pa.array([], kind) for kind in types]
    if len(parts) == 1:
        return parts[0]
    at = np.concatenate([positions for positions, _ in parts])
    order = np.argsort(at, kind="stable")
    take = pa.array(order)
    columns = zip(*(arrays for _, arrays in parts), strict=True)
    return at[order], [pa.concat_arrays(list(column)).take(take) for column in columns]


def loose_column(
    rule: ColumnRule, column: list[Any], arrow_type: pa.DataType, allowed: pa.Array | None
) -> tuple[pa.Array, np.ndarray]:
    """Any column of JSON values, checked over all rows (null where refused)."""
    kinds = set(map(type, column))
    fast: tuple[pa.Array, np.ndarray] | None = None
    if isinstance(rule, NumericRule) and kinds <= _NUMBERS:
        fast = _numeric(rule, column, type(None) in kinds)
    elif isinstance(rule, CategoricalRule | EntityIdRule) and kinds <= _STRINGS:
        fast = _strings(column, allowed)
    elif isinstance(rule, BinaryLabelRule) and kinds <= _INTS:
        fast = _labels(rule, column, type(None) in kinds)
    if fast is not None:
        array, flagged = fast
        if not rule.nullable and array.null_count:
            flagged = flagged | array.is_null().to_numpy(zero_copy_only=False)
        return array, flagged
    return by_rule(rule, column, arrow_type, kinds <= _STRINGS)


def _strings(column: list[Any], allowed: pa.Array | None) -> tuple[pa.Array, np.ndarray] | None:
    """Plain strings with Arrow; ``None`` (the rule decides) when one is not valid
    Unicode text (an unpaired surrogate that Arrow cannot encode)."""
    try:
        array = pa.array(column, pa.string())
    except (UnicodeError, pa.ArrowException):
        return None
    flagged = np.zeros(len(column), dtype=bool)
    if allowed is not None:
        inside = pc.is_in(array, value_set=allowed)
        flagged = ~inside.to_numpy(zero_copy_only=False)
        if array.null_count:  # a null is not outside the set (nullability is above)
            flagged &= ~array.is_null().to_numpy(zero_copy_only=False)
    return array, flagged


def _numeric(
    rule: NumericRule, column: list[Any], has_null: bool
) -> tuple[pa.Array, np.ndarray] | None:
    """Plain JSON numbers with numpy; ``None`` when a value does not fit a float64."""
    try:
        numbers = np.array(column, dtype=np.float64)  # float(v) each: the rule's typing
    except (OverflowError, TypeError, ValueError):
        return None
    null = _nulls(column, numbers) if has_null else None
    flagged = ~np.isfinite(numbers)
    if null is not None:
        flagged &= ~null
    with np.errstate(invalid="ignore"):
        if rule.low is not None:
            flagged |= numbers < rule.low
        if rule.high is not None:
            flagged |= numbers > rule.high
    return pa.array(numbers, pa.float64(), mask=null), flagged


def _nulls(column: list[Any], numbers: np.ndarray) -> np.ndarray:
    """Where ``column`` holds None (numpy made each a NaN, as it made a NaN value)."""
    nan: np.ndarray = np.isnan(numbers)
    if int(nan.sum()) == column.count(None):  # every NaN is a None: no value by value
        return nan
    return np.fromiter((v is None for v in column), bool, len(column))


def _labels(
    rule: BinaryLabelRule, column: list[Any], has_null: bool
) -> tuple[pa.Array, np.ndarray] | None:
    """Integer labels with numpy; ``None`` when one does not fit an int64."""
    placeholder = rule.classes[0]
    try:
        labels = np.array(
            [placeholder if v is None else v for v in column] if has_null else column,
            dtype=np.int64,
        )
    except (OverflowError, TypeError, ValueError):
        return None
    null = np.fromiter((v is None for v in column), bool, len(column)) if has_null else None
    flagged = ~np.isin(labels, rule.classes)
    return pa.array(labels, pa.int64(), mask=null), flagged


def by_rule(
    rule: ColumnRule, column: list[Any], arrow_type: pa.DataType, strings: bool
) -> tuple[pa.Array, np.ndarray]:
    """Any column, value by value through the rule itself (mixed types, times, ids).

    A column of strings (event times, mostly) is typed once per distinct value: event
    times repeat (records of the same hour), and parsing was most of this column's cost.
    Only strings: 1, 1.0 and True are one dict key but not one typing.
    """
    typed = rule.typed
    if strings:
        once = {value: typed(value) for value in set(column) if value is not None}
        clean = not any(type(value) is RecordProblem for value in once.values())
        if clean and None not in column:
            return _strings_typed(once, column, arrow_type), np.zeros(len(column), dtype=bool)
        out = list(map(once.get, column))  # None stays None
        if clean and rule.nullable:
            return pa.array(out, arrow_type), np.zeros(len(out), dtype=bool)
    else:
        out = [None if value is None else typed(value) for value in column]
    flagged = np.fromiter(
        (type(value) is RecordProblem or (value is None and not rule.nullable) for value in out),
        bool,
        len(out),
    )
    if flagged.any():
        out = [None if bad else value for value, bad in zip(out, flagged.tolist(), strict=True)]
    return pa.array(out, arrow_type), flagged


def _strings_typed(once: dict[str, Any], column: list[str], arrow_type: pa.DataType) -> pa.Array:
    """A column without nulls from its distinct values' typings (``once``).

    Event times go to Arrow as integer microseconds: building the array from one datetime
    object per row cost more than parsing them.
    """
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "us":
        micros = {value: (moment - _EPOCH) // _MICROSECOND for value, moment in once.items()}
        ints = np.fromiter(map(micros.__getitem__, column), np.int64, len(column))
        return pa.array(ints, pa.int64()).view(arrow_type)
    return pa.array(list(map(once.__getitem__, column)), arrow_type)
