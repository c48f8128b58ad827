"""The record contract applied to a run of messages at once, column by column.

Checking record by record (decode, a dict of typed values, a row object, then columns
again for Parquet) cost more than everything else ingest does. Here a run of one
partition's messages is decoded once, each message straight into a slotted struct of
the spec's columns (``msgspec``, other keys skipped unread), and each column is checked
over all rows (:mod:`continuum.ingest.batch_columns`).

The struct is first the **strict** one, its field types compiled from the pipeline's
:class:`RecordChecker` rules (:func:`~continuum.ingest.batch_columns.strict_type`):
``msgspec`` then checks in C, deciding as the rules do, what a valid message holds, and
its columns are only converted to Arrow (event times and float labels still typed by
their rule, once per distinct value). Looking at every value in Python (its type, then
numpy bounds and Arrow set membership) was most of a run's cost: on the flights bench's
records, in runs of 16,000, ~2.6 µs per record became ~1.45 (the decode is ~0.6 of it).
A message the strict struct refuses, invalid or valid in a way it does not express (an
id beyond int64, ``NaN`` in an unknown key), is decoded into the **loose** struct
(every column ``Any``) and its columns are checked as before: numpy, Arrow, the rule's
own ``typed``. Once most of a run is refused strictly, the rest of it goes loose
directly (a refusal costs an exception).

A message ``msgspec`` refuses altogether goes to the reference decoder
(:func:`~continuum.ingest.validation.parse_json_object`) for its reason or its values,
and so does one ``msgspec`` would read where the reference refuses it (an unknown key's
value is skipped without checking its UTF-8 or converting its integers: see
:func:`~continuum.ingest.batch_columns.msgspec_only`). A few messages the strict struct
refuses (up to :attr:`BatchChecker.one_by_one`) are decided record by record instead of
through the loose struct. The accepted rows come out in offset order as one Arrow record
batch with the batch schema, ready for Parquet.

A flagged row is checked again by ``RecordChecker.check`` for its reasons, so a
rejection says exactly what the per-record contract says (fields in spec order, same
codes and messages). That batch and per-record decisions agree, with the same typed
values, is a property test (``tests/test_ingest_batch_check.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
from msgspec.structs import astuple
from pydantic_core import from_json

from continuum.contracts import CheckedRecord, PipelineSpec, RecordChecker, RecordProblem
from continuum.contracts.record_rules import CategoricalRule
from continuum.ingest.batch_columns import (
    in_run_order,
    loose_column,
    msgspec_only,
    strict_column,
    strict_type,
)
from continuum.ingest.parquet_batch import arrow_schema
from continuum.ingest.validation import ingest_checker, parse_json_object

_DISAGREED = RecordProblem("$", "internal", "internal", "batch check disagreed")

Part = tuple[np.ndarray, list[pa.Array]]
"""Rows of a run: their positions in it and their columns."""


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


def _reference(raw: bytes | None) -> dict[str, Any] | RecordProblem:
    """The reference decoder's reading (``from_json`` first: faster, same reading)."""
    if raw is not None:
        try:
            data = from_json(raw)
        except ValueError:
            pass  # the reference decoder says why, in its own words
        else:
            if type(data) is dict:
                return data
    return parse_json_object(raw)


def _decode_all(
    decode: Callable[[Any], Any], values: Sequence[bytes | None], give_up: int
) -> tuple[list[Any], list[int]]:
    """Each message decoded (in C, ``map``), and where ``decode`` refused one.

    Once refusals pass ``give_up`` and a fifth of the run so far, the rest of the run
    counts as refused (a refusal costs an exception: the loose decoder reads them).
    """
    records: list[Any] = []
    extend = records.extend
    failed: list[int] = []
    it = iter(values)
    while True:
        try:  # extend keeps what it read before a refusal: that refusal is at len()
            extend(map(decode, it))
            break
        except Exception:  # any refusal (or None: TypeError)
            failed.append(len(records) + len(failed))
            if len(failed) > give_up and 4 * len(failed) > len(records):
                failed.extend(range(len(records) + len(failed), len(values)))
                break
    return records, failed


class BatchChecker:
    """Checks runs of messages against one spec (build once per spec, like the checker)."""

    give_up = 16
    """Strict refusals in a run after which, if they are a fifth of it, the rest is loose."""
    one_by_one = 32
    """At most this many messages the strict struct refuses (or a 64th of the run) are
    decided record by record: no per-column fixed costs, and a refused one is read once,
    but a valid one costs more than in the loose struct's columns."""

    def __init__(self, spec: PipelineSpec, checker: RecordChecker | None = None) -> None:
        self.spec = spec
        self.checker = checker or ingest_checker(spec)
        self.schema = arrow_schema(spec)
        rules = self.checker.rules
        self._types = [self.schema.field(rule.name).type for rule in rules]
        self._allowed = [
            pa.array(sorted(rule.allowed), pa.string())
            if isinstance(rule, CategoricalRule) and rule.allowed is not None
            else None
            for rule in rules
        ]
        # Attribute names f0, f1... (column names need not be identifiers), renamed to the
        # columns in JSON. gc=False: the values are JSON, never a reference cycle.
        fields = [f"f{i}" for i in range(len(rules))]
        rename = dict(zip(fields, (rule.name for rule in rules), strict=True))
        self._struct = msgspec.defstruct(
            "SourceRecord", [(f, Any, None) for f in fields], rename=rename, gc=False
        )
        self._loose = msgspec.json.Decoder(self._struct)
        # The strict struct: what msgspec checks of each column (required: not nullable).
        kinds = [strict_type(rule) for rule in rules]
        self._strict_struct = msgspec.defstruct(
            "StrictRecord",
            [
                (f, kind, None) if rule.nullable else (f, kind)
                for f, kind, rule in zip(fields, kinds, rules, strict=True)
            ],
            rename=rename,
            kw_only=True,
            gc=False,
        )
        self._strict = msgspec.json.Decoder(self._strict_struct) if None not in kinds else None
        # _columns reads column i at astuple position i: keyword-only fields keep their order.
        assert self._strict_struct.__struct_fields__ == tuple(fields)
        self._names = [rule.name for rule in rules]

    def check(
        self, partition: int, offsets: Sequence[int], values: Sequence[bytes | None]
    ) -> CheckedRun:
        """Check the messages ``values`` (at ``offsets``, ascending) of one partition."""
        suspects = msgspec_only(values)
        strict_at, strict, rest = self._decode_strict(values, suspects)
        problems: dict[int, list[RecordProblem]] = {}
        parts = [self._part(values, strict_at, strict, True, problems)]
        if len(rest) <= max(self.one_by_one, len(values) // 64):
            parts.append(self._one_by_one(values, rest, problems))
        else:
            loose_at, loose = self._decode_loose(values, rest, suspects, problems)
            parts.append(self._part(values, loose_at, loose, False, problems))
        at, arrays = in_run_order([part for part in parts if part is not None], self._types)
        accepted = np.asarray(offsets, dtype=np.int64)[at]
        arrays.append(pa.array(np.full(len(at), partition, dtype=np.int32)))
        arrays.append(pa.array(accepted))
        rows = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        rejected = [Rejected(offsets[i], values[i], problems[i]) for i in sorted(problems)]
        return CheckedRun(rows, accepted.tolist(), rejected)

    def _decide(self, raw: bytes | None) -> CheckedRecord | list[RecordProblem]:
        """The per-record contract: the reference decoder's reading, then the rules."""
        decision = _reference(raw)
        return [decision] if isinstance(decision, RecordProblem) else self.checker.check(decision)

    def _part(
        self,
        values: Sequence[bytes | None],
        at: np.ndarray,
        records: list[Any],
        strict: bool,
        problems: dict[int, list[RecordProblem]],
    ) -> Part | None:
        """The rows of ``records`` (at ``at``) the rules accept; the others' ``problems``,
        in the contract's words (each flagged message is decided again, record by record)."""
        if not records:
            return None
        arrays, flagged = self._columns(records, strict)
        if flagged is not None:
            for i in at[flagged].tolist():
                result = self._decide(values[i])
                # The vectorised rules only flag what a rule refuses: never a CheckedRecord.
                problems[i] = result if isinstance(result, list) else [_DISAGREED]
            keep = ~flagged
            mask = pa.array(keep)
            at, arrays = at[keep], [array.filter(mask) for array in arrays]
        return (at, arrays) if len(at) else None

    def _one_by_one(
        self,
        values: Sequence[bytes | None],
        rest: list[int],
        problems: dict[int, list[RecordProblem]],
    ) -> Part | None:
        """The messages at ``rest`` decided record by record: the rows accepted, as
        columns of the rules' typed values; the others' ``problems``."""
        at: list[int] = []
        rows: list[dict[str, Any]] = []
        for i in rest:
            result = self._decide(values[i])
            if isinstance(result, list):
                problems[i] = result
            else:
                at.append(i)
                rows.append(result.values)
        if not rows:
            return None
        named = zip(self._names, self._types, strict=True)
        return np.array(at, np.int64), [pa.array([r[n] for r in rows], t) for n, t in named]

    def _decode_strict(
        self, values: Sequence[bytes | None], suspects: set[int]
    ) -> tuple[np.ndarray, list[Any], list[int]]:
        """The positions and structs of the messages the strict struct accepts; the others
        (with the rest of the run once refusals pass :attr:`give_up` and a fifth of it)."""
        n = len(values)
        if self._strict is None:
            return np.zeros(0, np.int64), [], list(range(n))
        if suspects:
            values = [None if i in suspects else raw for i, raw in enumerate(values)]
        records, failed = _decode_all(self._strict.decode, values, self.give_up)
        at = np.delete(np.arange(n), failed) if failed else np.arange(n)
        return at, records, failed

    def _decode_loose(
        self,
        values: Sequence[bytes | None],
        rest: list[int],
        suspects: set[int],
        problems: dict[int, list[RecordProblem]],
    ) -> tuple[np.ndarray, list[Any]]:
        """The messages at ``rest`` as loose structs; ``problems`` of those not an object.

        A message the loose decoder refuses (or a suspect) is read by the reference
        decoder: an object it accepts becomes a struct too (the rules decide on it),
        anything else is refused with the reference decoder's reason.
        """
        raws = [None if i in suspects else values[i] for i in rest]
        records, failed = _decode_all(self._loose.decode, raws, len(raws))
        at = np.delete(np.array(rest, np.int64), failed)
        extra: list[tuple[int, Any]] = []  # read by the reference decoder
        for i in (rest[j] for j in failed):
            reference = _reference(values[i])
            if isinstance(reference, RecordProblem):
                problems[i] = [reference]
            else:
                extra.append((i, self._struct(*(reference.get(n) for n in self._names))))
        if extra:  # back in run order
            at = np.concatenate([at, np.array([i for i, _ in extra], np.int64)])
            order = np.argsort(at, kind="stable")
            records += [record for _, record in extra]
            at, records = at[order], [records[k] for k in order.tolist()]
        return at, records

    def _columns(
        self, records: list[Any], strict: bool
    ) -> tuple[list[pa.Array], np.ndarray | None]:
        """Each column of ``records`` as Arrow, and the rows a rule refuses (None: none).

        The structs' fields all at once, one flat list (``astuple``: half the cost of an
        attribute read per field), then every ``width``-th of it for a column.
        """
        width = len(self._names)
        flat = list(chain.from_iterable(map(astuple, records)))
        arrays = []
        bad: np.ndarray | None = None
        # Fields are declared f0, f1... in rule order (all keyword-only: msgspec keeps it).
        for place, (rule, kind, allowed) in enumerate(
            zip(self.checker.rules, self._types, self._allowed, strict=True)
        ):
            column = flat[place::width]
            if strict:
                array, flagged = strict_column(rule, column, kind)
            else:
                array, flagged = loose_column(rule, column, kind, allowed)
                if not flagged.any():
                    flagged = None
            arrays.append(array)
            if flagged is not None:
                bad = flagged if bad is None else bad | flagged
        return arrays, bad
