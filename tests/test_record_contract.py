"""Training and serving accept the same records with the same typed values (property tests).

Both sides go through their real entry points on the same JSON bytes: ingest's
``validate_record`` (what it does to every Kafka message) and serving's ``parse_body``
plus ``RecordValidator.check`` (what it does to every request). Specs are generated too,
so the property covers bounds, closed sets, nullability, entity ids and label domains.
The only differences allowed are the two the contract makes explicit: serving may go
without the event time, and serving ignores the target.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from continuum.contracts import CategoricalFeature, NumericFeature, PipelineSpec
from continuum.ingest.validation import ValidRow, validate_record
from continuum.serving.validation import (
    CheckedRecords,
    RecordValidator,
    RequestInvalidError,
    parse_body,
)

TARGET, TIME, ENTITY = "y", "ts", "id"
WORDS = ["red", "blue", "green", "", "1", "true", "2024-01-01"]

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def feature_specs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    nullable = draw(st.booleans())
    if draw(st.booleans()):
        low = draw(st.none() | st.integers(-100, 100))
        high = draw(st.none() | st.integers(-100, 100))
        if low is not None and high is not None and low > high:
            low, high = high, low
        return {"name": name, "type": "numeric", "min": low, "max": high, "nullable": nullable}
    values = draw(st.none() | st.lists(st.sampled_from(WORDS), min_size=1, unique=True))
    return {"name": name, "type": "categorical", "values": values, "nullable": nullable}


@st.composite
def specs(draw: st.DrawFn) -> PipelineSpec:
    names = draw(st.lists(st.sampled_from("abcde"), min_size=1, max_size=4, unique=True))
    features = [draw(feature_specs(name)) for name in names]
    regression = draw(st.booleans())
    target: dict[str, Any] = {"name": TARGET}
    if regression and draw(st.booleans()):
        target["min"], target["max"] = sorted(
            draw(st.lists(st.integers(-50, 50), min_size=2, max_size=2))
        )
    if not regression and draw(st.booleans()):
        target["classes"] = draw(st.lists(st.integers(-3, 9), min_size=2, max_size=2, unique=True))
    schema: dict[str, Any] = {"features": features, "target": target, "event_time": TIME}
    if draw(st.booleans()):
        schema["entity_id"] = ENTITY
    return PipelineSpec.model_validate(
        {
            "name": "prop",
            "source_topic": "prop.events",
            "task": "regression" if regression else "binary_classification",
            "schema": schema,
            "model": {"estimator": "Ridge" if regression else "LogisticRegression"},
            "promotion": {"metric": "rmse" if regression else "roc_auc"},
        }
    )


PRESENT = (
    st.booleans()
    | st.integers(-200, 200)
    | st.integers(-(10**400), 10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(-200, 200)
    | st.sampled_from(WORDS)
    | st.text(max_size=5)
)
SCALARS = st.none() | PRESENT
ANY_VALUE = (
    SCALARS
    | st.lists(SCALARS, max_size=2)
    | st.dictionaries(st.text(max_size=2), SCALARS, max_size=2)
)
TIMES = (
    st.datetimes().map(datetime.isoformat)
    | st.datetimes(timezones=st.timezones()).map(datetime.isoformat)
    | st.sampled_from(["2024-01-01", "2024-01-01T00:00:00Z", "2024-01-01 05:00"])
)
BAD_TIMES = st.sampled_from(["yesterday", "", "2024-13-01", "01/02/2024"]) | PRESENT
ABSENT_KEY = object()


@st.composite
def mostly(draw: st.DrawFn, valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> Any:
    """Usually a value the field accepts (so records pass often enough), else anything."""
    return draw(valid) if draw(st.integers(0, 9)) < 8 else draw(other)


def label_values(spec: PipelineSpec) -> st.SearchStrategy[Any]:
    """Labels the target's domain accepts (or absent/null: unlabelled)."""
    target = spec.record_schema.target
    if spec.task == "regression":
        low = target.min if target.min is not None else -1e6
        high = target.max if target.max is not None else 1e6
        valid: st.SearchStrategy[Any] = st.floats(low, high) | st.integers(int(low), int(high))
    else:
        classes = target.binary_classes
        valid = st.sampled_from(classes) | st.sampled_from(classes).map(float)
        if 0 in classes and 1 in classes:
            valid |= st.booleans()
    return st.just(ABSENT_KEY) | st.none() | valid


def feature_values(feature: NumericFeature | CategoricalFeature) -> st.SearchStrategy[Any]:
    """Values the feature accepts (and, for nullable ones, null or absent)."""
    valid: st.SearchStrategy[Any]
    if isinstance(feature, NumericFeature):
        low = feature.min if feature.min is not None else -1e9
        high = feature.max if feature.max is not None else 1e9
        valid = st.floats(low, high) | st.integers(int(low), int(high))
    elif feature.values:
        valid = st.sampled_from(feature.values)
    else:
        valid = st.text(max_size=5)
    if feature.nullable:
        valid |= st.none() | st.just(ABSENT_KEY)
    return valid


@st.composite
def records(
    draw: st.DrawFn, spec: PipelineSpec, *, time: bool = True, any_label: bool = False
) -> dict[str, Any]:
    schema = spec.record_schema
    record: dict[str, Any] = {}
    for feature in schema.features:
        value = draw(mostly(feature_values(feature), ANY_VALUE | st.just(ABSENT_KEY)))
        if value is not ABSENT_KEY:
            record[feature.name] = value
    label = draw(ANY_VALUE if any_label else label_values(spec))
    if label is not ABSENT_KEY:
        record[TARGET] = label
    if time:
        record[TIME] = draw(mostly(TIMES, BAD_TIMES))
    if schema.entity_id:
        record[ENTITY] = draw(mostly(st.none() | st.text(max_size=4) | st.integers(), ANY_VALUE))
    if draw(st.booleans()):
        record["extra"] = draw(ANY_VALUE)
    return record


def ingest(spec: PipelineSpec, raw: bytes) -> ValidRow | list[tuple[str, str]]:
    result = validate_record(spec, raw)
    if isinstance(result, ValidRow):
        return result
    return [(p.field, p.kind) for p in result]


def serve(spec: PipelineSpec, raw: bytes) -> CheckedRecords | list[tuple[str, str]]:
    try:
        return RecordValidator(spec).check(parse_body(b'{"records": [%s]}' % raw, 10))
    except RequestInvalidError as exc:
        return [(e["loc"][3], e["type"]) for e in exc.errors]


def features(spec: PipelineSpec, values: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    """The typed feature values, with their types (1 and 1.0 are not the same typing)."""
    return {name: (type(values[name]), values[name]) for name in spec.record_schema.feature_names}


@SETTINGS
@given(st.data())
def test_serving_and_ingest_accept_the_same_records_with_the_same_values(
    data: st.DataObject,
) -> None:
    spec = data.draw(specs())
    record = data.draw(records(spec))
    raw = json.dumps(record).encode()
    trained, served = ingest(spec, raw), serve(spec, raw)
    if isinstance(served, CheckedRecords):
        assert isinstance(trained, ValidRow), (record, trained)
        assert features(spec, served.values[0]) == features(spec, trained.values)
        assert served.event_times == [trained.event_time]
        entity = trained.values.get(ENTITY) if spec.record_schema.entity_id else None
        assert served.entity_ids == [entity]
    else:
        assert not isinstance(trained, ValidRow), (record, served)
        # Not only the same verdict: the same problems, field by field.
        assert trained == served


@SETTINGS
@given(st.data())
def test_any_target_only_adds_ingest_problems_on_the_target(data: st.DataObject) -> None:
    spec = data.draw(specs())
    record = data.draw(records(spec, any_label=True))
    raw = json.dumps(record).encode()
    trained, served = ingest(spec, raw), serve(spec, raw)
    trained_problems = [] if isinstance(trained, ValidRow) else trained
    served_problems = [] if isinstance(served, CheckedRecords) else served
    assert [p for p in trained_problems if p[0] != TARGET] == served_problems


@SETTINGS
@given(st.data())
def test_without_an_event_time_serving_accepts_what_ingest_only_misses_it_for(
    data: st.DataObject,
) -> None:
    spec = data.draw(specs())
    record = data.draw(records(spec, time=False))
    if data.draw(st.booleans()):
        record[TIME] = None
    raw = json.dumps(record).encode()
    trained, served = ingest(spec, raw), serve(spec, raw)
    assert isinstance(trained, list)
    assert (TIME, "null" if TIME in record else "missing") in trained
    without_time = [p for p in trained if p[0] != TIME]
    if isinstance(served, CheckedRecords):
        assert without_time == []
        assert served.event_times == [None]
    else:
        assert without_time == served
