"""Records and Parquet batches as typed pandas frames, in the spec's column order."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from continuum.contracts import PipelineSpec
from continuum.contracts.feature_views import ColumnKind

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


def input_kinds(spec: PipelineSpec) -> dict[str, ColumnKind]:
    """The model's input columns in order and their kinds: schema features, then views'.

    A spec without feature views has exactly its schema features; with views, each view
    feature is one more input (``latest`` of a categorical is categorical, else numeric).
    """
    kinds: dict[str, ColumnKind] = {f.name: f.type for f in spec.record_schema.features}
    kinds.update(spec.view_feature_kinds)
    return kinds


def coerce_features(spec: PipelineSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The model's input columns of ``frame`` in order, typed (absent ones become missing).

    The inputs are :func:`input_kinds`: the schema's features, then any view features.
    """
    # continuum.cli.bundle.predict (an exported bundle, which cannot import this) has a
    # copy; libs/cli/tests/test_export.py holds the two to the same output.
    out: dict[str, Any] = {}
    for name, kind in input_kinds(spec).items():
        column = frame[name] if name in frame.columns else None
        if kind == "categorical":
            values = column.tolist() if column is not None else [None] * len(frame)
            out[name] = pd.Series([_category(v) for v in values], index=frame.index, dtype=object)
        elif column is None:
            out[name] = pd.Series(np.nan, index=frame.index, dtype=float)
        else:
            out[name] = pd.to_numeric(column, errors="coerce").astype(float)
    return pd.DataFrame(out, index=frame.index)


def records_to_frame(spec: PipelineSpec, records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Feature columns in spec order: numeric -> float (NaN when missing), categorical -> str.

    This is the one conversion training and serving share, so both see the same inputs.
    View features (:func:`input_kinds`) are read from the records too: serving enriches
    them first.
    """
    kinds = input_kinds(spec)
    data = {
        name: (
            pd.Series([_number(r.get(name)) for r in records], dtype=float)
            if kind == "numeric"
            else pd.Series([_category(r.get(name)) for r in records], dtype=object)
        )
        for name, kind in kinds.items()
    }
    return pd.DataFrame(data, columns=list(kinds))


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

    With feature views, each row also gets every view feature as of its event time,
    joined point-in-time over all rows of ``raw`` with an event time (unlabelled ones are
    history too, as they are online): see :mod:`continuum.modelkit.feature_views`.
    """
    schema = spec.record_schema
    target = schema.target.name
    missing = [c for c in (schema.event_time, target) if c not in raw.columns]
    if missing:
        raise ValueError(f"batch has no column(s) {missing}")
    times = parse_event_times(raw[schema.event_time])
    if spec.feature_views:
        # Imported here: feature_views builds on this module.
        from continuum.modelkit.feature_views import join_views

        raw = join_views(raw.assign(**{EVENT_TIME_COLUMN: times}), spec)
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
    """Only the model's input columns, in spec order and typed (raw or typed frames).

    With feature views the frame must already carry them (``labelled_rows`` joins them);
    an absent view column is missing, as for any input.
    """
    return coerce_features(spec, frame)
