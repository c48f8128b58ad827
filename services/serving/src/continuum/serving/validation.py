"""Request bodies and per-record checks against a pipeline spec.

The body is parsed with ``model_validate_json`` on the raw bytes (several times cheaper
than FastAPI's own parsing of a big body), then each record is checked against the spec
in one plain loop. Errors look like FastAPI's: ``{"loc": ["body", "records", i, field],
"msg": ..., "type": ...}``, so a client sees every bad record and field at once.

Rules (the same contract ingest applies to training data, so the model only ever sees
inputs like the ones it was trained on):

- numeric: a JSON number (not a bool, not a string), finite, within the spec's optional
  ``min``/``max``;
- categorical: a string (numbers and bools are accepted and become strings, as in
  ``continuum.modelkit.records_to_frame``), one of ``values`` when the spec closes the set;
- a nullable feature may be ``null`` or absent; a non-nullable one must be present;
- the entity id (optional) is a string or integer; the event time (optional) is an
  ISO-8601 string, naive times taken as UTC;
- other keys (the target, extra columns) are ignored.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from continuum.contracts import CategoricalFeature, PipelineSpec

ErrorDetail = dict[str, Any]

_MISSING: Any = object()


class PredictRequest(BaseModel):
    """``POST /v1/pipelines/{name}/predict``: the records to score."""

    records: list[dict[str, Any]] = Field(min_length=1)


class RequestInvalidError(Exception):
    """The body or some records are invalid; ``errors`` is FastAPI's ``detail`` list."""

    def __init__(self, errors: list[ErrorDetail]) -> None:
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors


def parse_body(body: bytes, max_records: int) -> list[dict[str, Any]]:
    """The records of a request body; raises :class:`RequestInvalidError`."""
    try:
        records = PredictRequest.model_validate_json(body).records
    except ValidationError as exc:
        raise RequestInvalidError(
            [
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
        ) from None
    if len(records) > max_records:
        raise RequestInvalidError(
            [
                {
                    "loc": ["body", "records"],
                    "msg": f"List should have at most {max_records} items, not {len(records)}",
                    "type": "too_long",
                }
            ]
        )
    return records


@dataclass(frozen=True, slots=True)
class CheckedRecords:
    """Records that passed: the raw dicts (model input) plus their entity ids and times."""

    records: list[dict[str, Any]]
    entity_ids: list[str | None]
    event_times: list[datetime | None]


@dataclass(frozen=True, slots=True)
class _Numeric:
    name: str
    nullable: bool
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class _Categorical:
    name: str
    nullable: bool
    allowed: frozenset[str] | None
    allowed_text: str


def _error(index: int, field: str, msg: str, kind: str, value: Any = _MISSING) -> ErrorDetail:
    detail: ErrorDetail = {"loc": ["body", "records", index, field], "msg": msg, "type": kind}
    if value is not _MISSING:
        detail["input"] = value
    return detail


class RecordValidator:
    """Checks records against one spec (built once per loaded model, reused per request)."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        schema = spec.record_schema
        self.feature_names = schema.feature_names
        self.entity_id = schema.entity_id
        self.event_time = schema.event_time
        self._checks: list[_Numeric | _Categorical] = []
        for feature in schema.features:
            if isinstance(feature, CategoricalFeature):
                allowed = frozenset(feature.values) if feature.values is not None else None
                text = " or ".join(repr(v) for v in feature.values or ())
                self._checks.append(_Categorical(feature.name, feature.nullable, allowed, text))
            else:
                self._checks.append(
                    _Numeric(feature.name, feature.nullable, feature.min, feature.max)
                )

    def check(self, records: list[dict[str, Any]]) -> CheckedRecords:
        """The records if all are valid; else raises :class:`RequestInvalidError` naming each."""
        errors: list[ErrorDetail] = []
        entity_ids: list[str | None] = []
        event_times: list[datetime | None] = []
        for index, record in enumerate(records):
            for check in self._checks:
                value = record.get(check.name, _MISSING)
                if value is _MISSING or value is None:
                    if not check.nullable:
                        if value is _MISSING:
                            errors.append(_error(index, check.name, "Field required", "missing"))
                        else:
                            errors.append(
                                _error(index, check.name, "Field may not be null", "null", None)
                            )
                    continue
                problem = (
                    _numeric_problem(check, value)
                    if isinstance(check, _Numeric)
                    else _categorical_problem(check, value)
                )
                if problem is not None:
                    errors.append(_error(index, check.name, problem[0], problem[1], value))
            entity_ids.append(self._entity_id(index, record, errors))
            event_times.append(self._event_time(index, record, errors))
        if errors:
            raise RequestInvalidError(errors)
        return CheckedRecords(records, entity_ids, event_times)

    def features_of(self, record: dict[str, Any]) -> dict[str, Any]:
        """Only the feature columns of a record (what the prediction log keeps)."""
        return {name: record.get(name) for name in self.feature_names}

    def _entity_id(
        self, index: int, record: dict[str, Any], errors: list[ErrorDetail]
    ) -> str | None:
        if self.entity_id is None:
            return None
        value = record.get(self.entity_id)
        if value is None:
            return None
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            return str(value)
        errors.append(
            _error(index, self.entity_id, "Input should be a string", "string_type", value)
        )
        return None

    def _event_time(
        self, index: int, record: dict[str, Any], errors: list[ErrorDetail]
    ) -> datetime | None:
        value = record.get(self.event_time)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                # A naive time is taken as UTC (the event contract only carries UTC).
                if parsed.tzinfo is None:
                    return parsed.replace(tzinfo=UTC)
                return parsed.astimezone(UTC)
        errors.append(
            _error(
                index,
                self.event_time,
                "Input should be an ISO-8601 datetime string",
                "datetime_parsing",
                value,
            )
        )
        return None


def _numeric_problem(check: _Numeric, value: Any) -> tuple[str, str] | None:
    kind = type(value)
    if kind is not float and kind is not int:  # bool is a subclass of int: refused here
        return "Input should be a valid number", "float_type"
    if kind is float and not math.isfinite(value):
        return "Input should be a finite number", "finite_number"
    if check.low is not None and value < check.low:
        return f"Input should be greater than or equal to {check.low:g}", "greater_than_equal"
    if check.high is not None and value > check.high:
        return f"Input should be less than or equal to {check.high:g}", "less_than_equal"
    return None


def _categorical_problem(check: _Categorical, value: Any) -> tuple[str, str] | None:
    kind = type(value)
    if kind is str:
        text = value
    elif kind is bool:
        text = str(value).lower()
    elif kind is int or kind is float:
        text = str(value)
    else:
        return "Input should be a valid string", "string_type"
    if check.allowed is not None and text not in check.allowed:
        return f"Input should be {check.allowed_text}", "enum"
    return None
