"""Request bodies, and their records checked against a pipeline spec.

The body is parsed with ``model_validate_json`` on the raw bytes (several times cheaper
than FastAPI's own parsing of a big body), then each record is checked with the one
record contract ingest applies to training data
(:class:`continuum.contracts.RecordChecker`, compiled once per loaded model), so the
model only ever sees inputs like the ones it was trained on. Two differences, both
parameters of that contract: a request may omit the event time (when present it is
parsed exactly as ingest parses it), and the target key, if a client sends one, is
ignored. In particular a categorical feature must be a string: numbers and booleans are
refused (422), as ingest refuses them, not turned into strings.

Errors look like FastAPI's: ``{"loc": ["body", "records", i, field], "msg": ...,
"type": ..., "input": ...}`` (``type`` is the problem's pydantic-style ``kind``; ``input``
is left out when the field was absent), so a client sees every bad record and field at
once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_core import to_json

from continuum.contracts import ABSENT, PipelineSpec, RecordChecker, RecordProblem, RecordValue
from continuum.serving.settings import ServingSettings

ErrorDetail = dict[str, Any]

_MAX_RECORDS_SETTING = ServingSettings.env_name("max_records")


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
                    "msg": (
                        f"at most {max_records} records per request "
                        f"({_MAX_RECORDS_SETTING}), not {len(records)}"
                    ),
                    "type": "too_long",
                }
            ]
        )
    return records


@dataclass(frozen=True, slots=True)
class CheckedRecords:
    """Records that passed: the contract's typed values (the model's input), ids and times.

    ``values`` are the typed features, event time and entity id per record: exactly what
    ingest stores for training, so the model sees the same inputs in both.
    """

    values: list[dict[str, RecordValue]]
    entity_ids: list[str | None]
    event_times: list[datetime | None]


MAX_ECHO_CHARS = 200
"""An echoed input is cut to this much text (the client sent it; it needs a reminder)."""


def _echo(value: Any) -> Any:
    if isinstance(value, bool | float) or value is None:
        return value
    if isinstance(value, str):
        text = value
    else:  # a 400-digit integer, a list, an object: their JSON text may be long too
        text = to_json(value, inf_nan_mode="strings", fallback=str).decode()
        if len(text) <= MAX_ECHO_CHARS:
            return value
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "..."


def _error(index: int, problem: RecordProblem) -> ErrorDetail:
    detail: ErrorDetail = {
        "loc": ["body", "records", index, problem.field],
        "msg": problem.message,
        "type": problem.kind,
    }
    if problem.input is not ABSENT:
        detail["input"] = _echo(problem.input)
    return detail


def _view_feature_sent(index: int, name: str, value: Any) -> ErrorDetail:
    return {
        "loc": ["body", "records", index, name],
        "msg": (
            f"{name!r} is a feature-view feature: serving reads it from the online store"
            " by the record's entity; do not send it"
        ),
        "type": "extra_forbidden",
        "input": _echo(value),
    }


class RecordValidator:
    """Checks records against one spec (built once per loaded model, reused per request).

    With feature views, a record sends only the schema's features (the views' entity keys
    among them); a view feature sent anyway is refused (422 naming it), so a model never
    sees a client's value where training saw the store's. Such a record's typed values are
    written into the record's own dict, which is both the model's input and what the
    prediction log reads: the enrichment (:mod:`continuum.serving.enrichment`) fills the
    view features there, and the log carries them.
    """

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        # What the prediction log keeps: the model's inputs, view features included.
        self.feature_names = spec.model_input_columns
        self.view_features = frozenset(spec.view_feature_kinds)
        # The shared contract, as serving uses it: a request may omit the event time and
        # its target key (if any) is ignored; every other rule is ingest's.
        self._checker = RecordChecker(spec, require_event_time=False, check_target=False)

    def check(self, records: list[dict[str, Any]]) -> CheckedRecords:
        """The records if all are valid; else raises :class:`RequestInvalidError` naming each."""
        errors: list[ErrorDetail] = []
        values: list[dict[str, RecordValue]] = []
        entity_ids: list[str | None] = []
        event_times: list[datetime | None] = []
        check = self._checker.check
        views = self.view_features
        for index, record in enumerate(records):
            result = check(record)
            sent = [name for name in views if name in record] if views else []
            if sent:
                errors.extend(_view_feature_sent(index, n, record[n]) for n in sorted(sent))
            if isinstance(result, list):
                errors.extend(_error(index, problem) for problem in result)
                continue
            typed: dict[str, RecordValue] = result.values
            if views:
                # One dict for the model input and the log (see the class docstring).
                record.update(typed)
                typed = record
            values.append(typed)
            entity_ids.append(result.entity_id)
            event_times.append(result.event_time)
        if errors:
            raise RequestInvalidError(errors)
        return CheckedRecords(values, entity_ids, event_times)

    def features_of(self, record: dict[str, Any]) -> dict[str, Any]:
        """Only the feature columns of a record (what the prediction log keeps)."""
        return {name: record.get(name) for name in self.feature_names}
