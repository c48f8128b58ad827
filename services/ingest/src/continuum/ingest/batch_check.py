"""The record contract applied to a run of messages at once, column by column.

Checking record by record (decode, a dict of typed values, a row object, then columns
again for Parquet) cost more than everything else ingest does. Here a run of one
partition's messages is decoded once, each message straight into a slotted struct of the
spec's columns (``msgspec``, fields of any JSON type, other keys skipped unread: about
half the cost of a dict per message, and columns are read off by attribute); a message
it refuses (not JSON, not an object, a number beyond float64, text with an unpaired
surrogate...) goes through :func:`~continuum.ingest.validation.parse_json_object`, the
reference decoder, so a refused message gets the same reason and a message only
``msgspec`` refuses is still checked by the rules. Then each column is checked over
all rows with the *compiled rules of the pipeline's* :class:`RecordChecker`: numeric
columns of plain JSON numbers with numpy (finite, inclusive bounds), string columns with
Arrow; any other column value goes through the rule's own ``typed``. The accepted rows
come out as one Arrow record batch with the batch schema, ready for Parquet.

A row any column flags is checked again by ``RecordChecker.check`` for its reasons, so
a rejection says exactly what the per-record contract says (fields in spec order, same
codes and messages). Per-record and batch decisions agreeing is a property test
(``tests/test_ingest_batch_check.py``): the vectorised paths only ever accept what the
rules accept, with the same typed values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic_core import from_json

from continuum.contracts import PipelineSpec, RecordChecker, RecordProblem
from continuum.contracts.record_rules import (
    BinaryLabelRule,
    CategoricalRule,
    ColumnRule,
    EntityIdRule,
    NumericRule,
)
from continuum.ingest.parquet_batch import arrow_schema
from continuum.ingest.validation import ingest_checker, parse_json_object

_NUMBERS = frozenset({float, int, type(None)})
_INTS = frozenset({int, type(None)})
_STRINGS = frozenset({str, type(None)})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class Rejected(NamedTuple):
    """A refused message: its offset, its value and every problem found."""

    offset: int
    value: bytes | None
    problems: list[RecordProblem]


@dataclass(frozen=True, slots=True)
class CheckedRun:
    """The outcome of one run: accepted rows (offset order) and every refused message."""

    rows: pa.RecordBatch
    """The accepted rows, with :func:`arrow_schema`'s columns (lineage included)."""
    offsets: list[int]
    """The source offset of each accepted row."""
    rejected: list[Rejected]
    """Each refused message (what ``check_record`` says about it), in offset order."""


def _decode(raw: bytes | None) -> dict[str, Any] | RecordProblem:
    if raw is not None:
        try:
            data = from_json(raw)
        except ValueError:
            pass  # the reference decoder says why, in its own words
        else:
            if type(data) is dict:
                return data
    return parse_json_object(raw)


class BatchChecker:
    """Checks runs of messages against one spec (build once per spec, like the checker)."""

    def __init__(self, spec: PipelineSpec, checker: RecordChecker | None = None) -> None:
        self.spec = spec
        self.checker = checker or ingest_checker(spec)
        self.schema = arrow_schema(spec)
        self._types = {field.name: field.type for field in self.schema}
        self._allowed = {
            rule.name: pa.array(sorted(rule.allowed), pa.string())
            for rule in self.checker.rules
            if isinstance(rule, CategoricalRule) and rule.allowed is not None
        }
        # Attribute names f0, f1... (column names need not be identifiers), renamed to the
        # columns in JSON. gc=False: the values are JSON, never a reference cycle.
        fields = [f"f{i}" for i in range(len(self.checker.rules))]
        self._struct = msgspec.defstruct(
            "SourceRecord",
            [(field, Any, None) for field in fields],
            rename=dict(zip(fields, (rule.name for rule in self.checker.rules), strict=True)),
            gc=False,
        )
        self._decoder = msgspec.json.Decoder(self._struct)
        self._getters = [attrgetter(field) for field in fields]
        self._names = [rule.name for rule in self.checker.rules]

    def check(
        self, partition: int, offsets: Sequence[int], values: Sequence[bytes | None]
    ) -> CheckedRun:
        """Check the messages ``values`` (at ``offsets``, ascending) of one partition."""
        n = len(values)
        records, refused = self._decode(values)
        bad = np.zeros(n, dtype=bool)
        if refused:
            bad[list(refused)] = True
        arrays = []
        for rule, getter in zip(self.checker.rules, self._getters, strict=True):
            column = list(map(getter, records))
            array, flagged = self._column(rule, column)
            arrays.append(array)
            bad |= flagged
        arrays.append(pa.array(np.full(n, partition, dtype=np.int32)))
        arrays.append(pa.array(np.asarray(offsets, dtype=np.int64)))
        rows = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if not bad.any():
            return CheckedRun(rows, list(offsets), [])
        rejected = []
        for i in np.flatnonzero(bad).tolist():
            # The reference decoder's reading, for the reasons in the contract's words.
            decision = refused[i] if i in refused else _decode(values[i])
            problems = (
                [decision] if isinstance(decision, RecordProblem) else self.checker.check(decision)
            )
            if not isinstance(problems, list):
                # The vectorised rules only flag what a rule refuses; never reached.
                problems = [RecordProblem("$", "internal", "internal", "batch check disagreed")]
            rejected.append(Rejected(offsets[i], values[i], problems))
        keep = ~bad
        kept = [offset for offset, ok in zip(offsets, keep.tolist(), strict=True) if ok]
        return CheckedRun(rows.filter(pa.array(keep)), kept, rejected)

    def _decode(self, values: Sequence[bytes | None]) -> tuple[list[Any], dict[int, RecordProblem]]:
        """Each message as a struct of the columns; the messages that are not an object.

        A message the struct decoder refuses is read by the reference decoder: an object
        it accepts becomes a struct too (the rules decide on it), anything else is refused
        with the reference decoder's reason (its struct is all null, flagged regardless).
        """
        decode: Callable[[bytes], Any] = self._decoder.decode
        records: list[Any] = []
        refused: dict[int, RecordProblem] = {}
        for i, raw in enumerate(values):
            try:
                records.append(decode(raw))  # type: ignore[arg-type]  # None: TypeError
            except Exception:  # any refusal (or None): the reference decoder says why
                reference = _decode(raw)
                if isinstance(reference, RecordProblem):
                    refused[i] = reference
                    records.append(self._struct())
                else:
                    records.append(self._struct(*(reference.get(name) for name in self._names)))
        return records, refused

    def _column(self, rule: ColumnRule, column: list[Any]) -> tuple[pa.Array, np.ndarray]:
        """The column's typed Arrow array (null where refused) and the refused rows."""
        kinds = set(map(type, column))
        arrow_type = self._types[rule.name]
        fast: tuple[pa.Array, np.ndarray] | None = None
        if isinstance(rule, NumericRule) and kinds <= _NUMBERS:
            fast = _numeric(rule, column, type(None) in kinds)
        elif isinstance(rule, CategoricalRule | EntityIdRule) and kinds <= _STRINGS:
            fast = self._strings(rule, column)
        elif isinstance(rule, BinaryLabelRule) and kinds <= _INTS:
            fast = _labels(rule, column, type(None) in kinds)
        if fast is not None:
            array, flagged = fast
            if not rule.nullable and array.null_count:
                flagged = flagged | array.is_null().to_numpy(zero_copy_only=False)
            return array, flagged
        return _by_rule(rule, column, arrow_type, kinds <= _STRINGS)

    def _strings(self, rule: ColumnRule, column: list[Any]) -> tuple[pa.Array, np.ndarray] | None:
        """Plain strings with Arrow; ``None`` (the rule decides) when one is not valid
        Unicode text (an unpaired surrogate that Arrow cannot encode)."""
        try:
            array = pa.array(column, pa.string())
        except (UnicodeError, pa.ArrowException):
            return None
        flagged = np.zeros(len(column), dtype=bool)
        if rule.name in self._allowed:
            inside = pc.is_in(array, value_set=self._allowed[rule.name])
            flagged = ~inside.to_numpy(zero_copy_only=False)
            if array.null_count:  # a null is not outside the set (nullability is below)
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


def _by_rule(
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
        out = list(map(once.get, column))  # None stays None
        clean = not any(type(value) is RecordProblem for value in once.values())
        if clean and None not in column:
            return _strings_typed(once, column, arrow_type), np.zeros(len(out), dtype=bool)
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
