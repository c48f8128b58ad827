"""The one record contract: what a record must look like for training (ingest) and serving.

A record is a decoded JSON object. :class:`RecordChecker` (built once per spec, reused per
record) returns either a :class:`CheckedRecord` with the typed values or every
:class:`RecordProblem` found, so a producer or client sees all its mistakes at once.
Ingest and serving both call it; only two things differ, and they are parameters, not
diverging rules: serving requests may omit the event time (``require_event_time=False``)
and serving ignores the target (``check_target=False``).

The rules (producers and clients depend on them):

* Unknown extra keys are ignored (producers may add fields before the spec does).
* A feature that is absent or ``null`` is a null value when the feature is ``nullable``,
  else it is refused (code ``missing``).
* Numeric: a JSON number only. Booleans are refused (``true`` is not 1) and so are numeric
  strings (``"3.5"``): coercing them would hide producer bugs and let ``"NaN"`` in by the
  back door. NaN and +/-inf are refused (``nonfinite``); ``min``/``max`` are inclusive.
* Categorical: a string only (numbers are refused, not stringified: ``values`` is a list
  of strings, and the model must only ever see what it was trained on); one of ``values``
  when the spec closes the set.
* Target (when checked): absent or ``null`` means unlabelled. Regression: a finite number
  within the target's optional ``min``/``max``. Binary classification: a boolean or an
  integer (``1.0`` counts as 1), typed as an int (``true`` -> 1), one of the target's
  ``classes`` (default ``[0, 1]``); outside the domain is code ``label``.
* Event time: an ISO-8601 string, a naive time taken as UTC; required unless
  ``require_event_time=False``, and parsed the same way either way.
* Entity id (when the spec names one): optional, a string or an integer (typed as its
  decimal string).

Each problem has a stable ``code`` (a metric label and the prefix of ingest's rejection
reason) and a finer pydantic-style ``kind`` (what serving's 422 body calls ``type``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from continuum.contracts.pipeline_spec import PipelineSpec
from continuum.contracts.record_rules import (
    ABSENT,
    WHOLE_RECORD,
    BinaryLabelRule,
    CategoricalRule,
    ColumnRule,
    EntityIdRule,
    EventTimeRule,
    NumericRule,
    RecordProblem,
    RecordValue,
    RegressionLabelRule,
    missing_value,
    parse_event_time,
)
from continuum.contracts.record_schema import CategoricalFeature

__all__ = [
    "ABSENT",
    "WHOLE_RECORD",
    "CheckedRecord",
    "RecordChecker",
    "RecordProblem",
    "RecordValue",
    "check_record",
    "parse_event_time",
]


@dataclass(slots=True)  # not frozen: a frozen init costs more than the whole check
class CheckedRecord:
    """A record that passed: typed values by column name, and what callers pick from them.

    ``values`` holds the features (spec order), the target (only when checked), the event
    time and the entity id (when the spec has one). Treat it as read-only.
    """

    values: dict[str, RecordValue]
    event_time: datetime | None
    entity_id: str | None
    labelled: bool


class RecordChecker:
    """Checks records against one spec; build it once per spec and reuse it per record.

    ``require_event_time``: refuse a record without one (training needs it; a serving
    request may omit it). ``check_target``: check and type the label (ingest does; serving
    ignores the key, a client does not send labels).
    """

    def __init__(
        self, spec: PipelineSpec, *, require_event_time: bool = True, check_target: bool = True
    ) -> None:
        self.spec = spec
        schema = spec.record_schema
        columns: list[ColumnRule] = []
        for feature in schema.features:
            if isinstance(feature, CategoricalFeature):
                columns.append(CategoricalRule(feature))
            else:
                rule = NumericRule(feature.name, feature.nullable, feature.min, feature.max)
                columns.append(rule)
        self.feature_names: tuple[str, ...] = tuple(schema.feature_names)
        self.target: str | None = schema.target.name if check_target else None
        if check_target:
            target = schema.target
            if spec.task == "regression":
                columns.append(RegressionLabelRule(target.name, True, target.min, target.max))
            else:
                columns.append(BinaryLabelRule(target.name, target.binary_classes))
        self.event_time = schema.event_time
        columns.append(EventTimeRule(schema.event_time, nullable=not require_event_time))
        self.entity_id = schema.entity_id
        if schema.entity_id:
            columns.append(EntityIdRule(schema.entity_id, nullable=True))
        self.rules: tuple[ColumnRule, ...] = tuple(columns)
        """The compiled column rules in check order (batch checkers apply them per column)."""
        # Flat (name, nullable, rule) triples: serving runs this loop per record per request.
        self._plan = tuple((c.name, c.nullable, c.typed) for c in columns)

    def check(self, record: Mapping[str, Any]) -> CheckedRecord | list[RecordProblem]:
        """The typed record, or every problem found (in spec order)."""
        values: dict[str, RecordValue] = {}
        problems: list[RecordProblem] | None = None
        get = record.get
        for name, nullable, typed in self._plan:
            value = get(name, ABSENT)
            if value is None or value is ABSENT:
                if nullable:
                    values[name] = None
                    continue
                out = missing_value(name, value)
            else:
                out = typed(value)
                if type(out) is not RecordProblem:
                    values[name] = out
                    continue
            if problems is None:
                problems = []
            problems.append(out)
        if problems is not None:
            return problems
        time = values[self.event_time]
        entity = values[self.entity_id] if self.entity_id else None
        return CheckedRecord(
            values,
            time if isinstance(time, datetime) else None,
            entity if isinstance(entity, str) else None,
            self.target is not None and values[self.target] is not None,
        )


def check_record(
    spec: PipelineSpec,
    record: Mapping[str, Any],
    *,
    require_event_time: bool = True,
    check_target: bool = True,
) -> CheckedRecord | list[RecordProblem]:
    """Check one record (a convenience: reuse a :class:`RecordChecker` for many)."""
    checker = RecordChecker(spec, require_event_time=require_event_time, check_target=check_target)
    return checker.check(record)
