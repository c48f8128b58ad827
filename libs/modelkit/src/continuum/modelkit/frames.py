"""Records and Parquet batches as typed pandas frames, in the spec's column order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from continuum.contracts import CategoricalFeature, PipelineSpec

EVENT_TIME_COLUMN = "__event_time"
"""Where :func:`training_frame` keeps the parsed event time (never a model input)."""


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _category(value: Any) -> Any:
    # The record contract (continuum.contracts.record_check) lets only strings into
    # training batches and serving requests, so str() is a no-op for them; it stays so a
    # frame built from elsewhere still has one type per category. Missing stays NaN so
    # SimpleImputer sees it.
    if _is_missing(value):
        return np.nan
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _number(value: Any) -> float:
    if _is_missing(value):
        return math.nan
    return float(value)


def coerce_features(spec: PipelineSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The feature columns of ``frame`` in spec order, typed (absent columns become missing)."""
    # continuum.cli.bundle.predict (an exported bundle, which cannot import this) has a
    # copy; libs/cli/tests/test_export.py holds the two to the same output.
    out: dict[str, Any] = {}
    for feature in spec.record_schema.features:
        column = frame[feature.name] if feature.name in frame.columns else None
        if isinstance(feature, CategoricalFeature):
            values = column.tolist() if column is not None else [None] * len(frame)
            out[feature.name] = pd.Series(
                [_category(v) for v in values], index=frame.index, dtype=object
            )
        elif column is None:
            out[feature.name] = pd.Series(np.nan, index=frame.index, dtype=float)
        else:
            out[feature.name] = pd.to_numeric(column, errors="coerce").astype(float)
    return pd.DataFrame(out, index=frame.index)


def records_to_frame(spec: PipelineSpec, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Feature columns in spec order: numeric -> float (NaN when missing), categorical -> str.

    This is the one conversion training and serving share, so both see the same inputs.
    """
    names = spec.record_schema.feature_names
    numeric = {f.name for f in spec.record_schema.features if f.type == "numeric"}
    data = {
        name: (
            pd.Series([_number(r.get(name)) for r in records], dtype=float)
            if name in numeric
            else pd.Series([_category(r.get(name)) for r in records], dtype=object)
        )
        for name in names
    }
    return pd.DataFrame(data, columns=names)


def _label_values(spec: PipelineSpec, values: Iterable[Any]) -> np.ndarray[Any, Any]:
    items = list(values)
    if spec.task == "regression":
        return np.asarray([float(v) for v in items], dtype=float)
    # Binary labels: integral numbers and booleans become ints, so a label read back from
    # Parquet as 1.0 or True means the same class as 1 (ingest types them the same way and
    # stores only the spec's target classes); anything else is a string.
    if all(isinstance(v, bool | int | float | np.number | np.bool_) for v in items) and all(
        float(v).is_integer() for v in items
    ):
        return np.asarray([int(v) for v in items], dtype=np.int64)
    return np.asarray([str(v) for v in items], dtype=object)


def labels(spec: PipelineSpec, records: Sequence[Mapping[str, Any]]) -> np.ndarray[Any, Any]:
    """The target of labelled ``records`` (raises ``KeyError`` if one has none)."""
    target = spec.record_schema.target.name
    values = [r[target] for r in records]
    if any(_is_missing(v) for v in values):
        raise KeyError(f"some records have no {target!r} label")
    return _label_values(spec, values)


def parse_event_times(values: pd.Series) -> pd.Series:
    """ISO-8601 strings (or datetimes) -> tz-aware UTC timestamps; unparseable -> NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values, utc=True)
    else:
        parsed = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    return parsed


def labelled_rows(spec: PipelineSpec, raw: pd.DataFrame) -> pd.DataFrame:
    """The labelled rows of a raw batch frame, oldest first, all columns kept.

    Rows without a label or a parseable event time are dropped; the parsed time is in
    :data:`EVENT_TIME_COLUMN` for windows and the holdout split. Keeping the raw columns
    lets a champion trained on an older spec version pick its own inputs from them.
    """
    schema = spec.record_schema
    target = schema.target.name
    missing = [c for c in (schema.event_time, target) if c not in raw.columns]
    if missing:
        raise ValueError(f"batch has no column(s) {missing}")
    times = parse_event_times(raw[schema.event_time])
    keep = raw[target].notna() & times.notna()
    rows = raw.loc[keep].copy()
    rows[EVENT_TIME_COLUMN] = times.loc[keep]
    return rows.sort_values(EVENT_TIME_COLUMN, kind="stable").reset_index(drop=True)


def target_values(spec: PipelineSpec, rows: pd.DataFrame) -> pd.Series:
    """The labels of labelled rows, typed for the task (see :func:`labels`)."""
    target = spec.record_schema.target.name
    values = _label_values(spec, rows[target].tolist())
    return pd.Series(values, index=rows.index, name=target)


def training_frame(spec: PipelineSpec, raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Typed features + :data:`EVENT_TIME_COLUMN` and labels of the labelled rows, by time."""
    rows = labelled_rows(spec, raw)
    features = coerce_features(spec, rows)
    features[EVENT_TIME_COLUMN] = rows[EVENT_TIME_COLUMN]
    return features, target_values(spec, rows)


def feature_columns(spec: PipelineSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Only the model's input columns, in spec order and typed (raw or typed frames)."""
    return coerce_features(spec, frame)
