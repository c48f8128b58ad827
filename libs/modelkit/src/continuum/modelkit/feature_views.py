"""Feature views computed point-in-time correct from a frame of source events.

A view's values for an entity *as of time t* aggregate that entity's events whose event
time is strictly before ``t`` (an event at exactly ``t`` is not "before t"), within the
view's last ``window_events`` events and/or event times in ``(t - window_seconds, t)``;
a feature with nothing to aggregate takes its ``empty_value`` (``count``: 0, else the
``default``), as :mod:`continuum.contracts.feature_views` defines it. Training calls
:func:`join_views` so each label row sees only what was known before it happened (no
leakage); :func:`view_values_as_of` is the same definition written plainly for one
instant, the reference the online store's values are checked against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from continuum.contracts import FeatureView, PipelineSpec, ViewFeature, entity_key
from continuum.modelkit.frames import EVENT_TIME_COLUMN, parse_event_times

ViewValue = float | str | None
"""One view feature's value: a number, a category (``latest`` of a string column) or missing."""

Ufunc = Callable[[np.ndarray[Any, Any], np.ndarray[Any, Any]], np.ndarray[Any, Any]]


def entity_keys(values: pd.Series) -> pd.Series:
    """The online store's key of each entity value (:func:`~continuum.contracts.entity_key`).

    Object dtype; ``None`` where the value is missing (such a row has no entity: it sees
    no history and is no one's history).
    """
    keys = [None if _is_missing(v) else entity_key(v) for v in values.tolist()]
    return pd.Series(keys, index=values.index, dtype=object)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_utc(at: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(at)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _numeric(value: Any) -> float:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return float(number)


def _latest_value(value: Any) -> ViewValue:
    if isinstance(value, str):
        return value
    return _numeric(value)


# ---------------------------------------------------------------- the plain definition


def _aggregate(events: pd.DataFrame, feature: ViewFeature) -> ViewValue:
    """One feature over one entity's window (``events`` oldest first)."""
    if feature.column is None:  # count of events
        return float(len(events))
    column = events[feature.column]
    present = column[column.notna()]
    if present.empty:
        return feature.empty_value
    if feature.function == "latest":
        return _latest_value(present.iloc[-1])
    values = pd.to_numeric(present, errors="coerce").astype(float)
    if feature.function == "count":
        return float(len(values))
    return float(values.agg(feature.function))


def view_values_as_of(
    events: pd.DataFrame,
    view: FeatureView,
    at: datetime | pd.Timestamp,
    *,
    time_column: str = EVENT_TIME_COLUMN,
) -> dict[str, dict[str, ViewValue]]:
    """Each entity's view values as of ``at``: ``{entity key: {feature name: value}}``.

    Only entities with at least one event before ``at`` are listed (an entity the store
    has never seen has no row: serving uses the defaults). ``events`` holds the view's
    entity and source columns and the event time in ``time_column`` (parsed or ISO-8601).
    """
    at = _as_utc(at)
    times = parse_event_times(events[time_column])
    keys = entity_keys(events[view.entity])
    before = (times < at) & keys.notna()
    frame = events.loc[before].assign(__time=times[before], __key=keys[before])
    frame = frame.sort_values("__time", kind="stable")
    result: dict[str, dict[str, ViewValue]] = {}
    for key, group in frame.groupby("__key", sort=True):
        window = group
        if view.window_events is not None:
            window = window.tail(view.window_events)
        if view.window_seconds is not None:
            window = window[window["__time"] > at - pd.Timedelta(seconds=view.window_seconds)]
        result[str(key)] = {f.name: _aggregate(window, f) for f in view.features}
    return result


# ------------------------------------------------------------ the vectorised join


def _history_ranges(
    keys: pd.Series, times_ns: np.ndarray[Any, Any], valid: np.ndarray[Any, Any], view: FeatureView
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Rows sorted by (entity, time, position) and each sorted row's history ``[lo, hi)``.

    Sorted this way an entity's events are contiguous and oldest first, so a row's window
    is one range of sorted positions: it ends where the row's own block of equal
    (entity, time) starts, which keeps events at exactly the row's time out.
    """
    n = len(keys)
    codes, _ = pd.factorize(keys)  # a missing key is -1
    codes = np.where(valid, codes, -1)
    order = np.lexsort((np.arange(n), times_ns, codes))
    c, t, pos = codes[order], times_ns[order], np.arange(n)
    new_group = np.r_[True, c[1:] != c[:-1]]
    new_block = new_group | np.r_[True, t[1:] != t[:-1]]
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    hi = np.maximum.accumulate(np.where(new_block, pos, 0))
    lo = group_start
    if view.window_events is not None:
        lo = np.maximum(lo, hi - view.window_events)
    if view.window_seconds is not None:
        # First position of the row's entity with time > t - T: one searchsorted over
        # (entity, time rank) packed into one int64 (ranks, because ns times would overflow).
        uniq = np.unique(t)
        width = len(uniq) + 1
        packed = (c + 1) * width + np.searchsorted(uniq, t)
        threshold = t - round(view.window_seconds * 1e9)
        query = (c + 1) * width + np.searchsorted(uniq, threshold, side="right")
        lo = np.maximum(lo, np.searchsorted(packed, query, side="left"))
    lo = np.where(c < 0, hi, lo)  # no entity or no time: sees nothing
    return order, lo, np.where(c < 0, lo, hi)


def _range_reduce(
    values: np.ndarray[Any, Any], lo: np.ndarray[Any, Any], hi: np.ndarray[Any, Any], op: Ufunc
) -> np.ndarray[Any, Any]:
    """``op`` (np.fmin/np.fmax: NaN-skipping) over ``values[lo:hi]`` per row: a sparse table."""
    result = np.full(len(lo), np.nan)
    length = hi - lo
    some = length > 0
    if not some.any():
        return result
    level_of = np.where(some, np.frexp(np.maximum(length, 1))[1] - 1, -1)
    level = values
    for k in range(int(level_of.max()) + 1):
        rows = level_of == k
        if rows.any():
            result[rows] = op(level[lo[rows]], level[hi[rows] - (1 << k)])
        step = 1 << k
        level = op(level[:-step], level[step:]) if len(level) > step else level[:0]
    return result


def _feature_values(
    column: pd.Series | None,
    feature: ViewFeature,
    categorical: bool,
    lo: np.ndarray[Any, Any],
    hi: np.ndarray[Any, Any],
) -> np.ndarray[Any, Any]:
    """One feature for every sorted row, from its history ``[lo, hi)`` (``column`` sorted)."""
    if column is None:
        counts: np.ndarray[Any, Any] = (hi - lo).astype(float)
        return counts
    present = column.notna().to_numpy()
    pos = np.arange(len(column))
    if feature.function == "latest":
        last = np.maximum.accumulate(np.where(present, pos, -1))
        newest = np.where(hi > lo, last[np.maximum(hi - 1, 0)], -1)
        found = newest >= lo
        raw = column.to_numpy(dtype=object) if categorical else _floats(column)
        out = np.full(len(lo), feature.default, dtype=object if categorical else float)
        out[found] = raw[newest[found]]
        return out
    numbers = _floats(column)
    nonmissing = ~np.isnan(numbers)
    filled = np.where(nonmissing, numbers, 0.0)
    count = np.r_[0, np.cumsum(nonmissing)]
    n_present = count[hi] - count[lo]
    if feature.function == "count":
        value = n_present.astype(float)
    elif feature.function in ("sum", "mean"):
        total = np.r_[0.0, np.cumsum(filled)]
        value = total[hi] - total[lo]
        if feature.function == "mean":
            value = value / np.maximum(n_present, 1)
    else:
        value = _range_reduce(numbers, lo, hi, np.fmin if feature.function == "min" else np.fmax)
    empty = feature.empty_value
    return np.where(n_present > 0, value, np.nan if empty is None else empty)


def _floats(column: pd.Series) -> np.ndarray[Any, Any]:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def join_views(frame: pd.DataFrame, spec: PipelineSpec) -> pd.DataFrame:
    """``frame`` with every view feature of ``spec`` added as of each row's event time.

    The history is ``frame`` itself: each row sees only rows of its entity with an earlier
    event time (never its own, nor one at the same instant, nor a later one). The event
    time is :data:`EVENT_TIME_COLUMN` when present (as ``labelled_rows`` adds it), else the
    schema's event-time column parsed. Rows keep their order and index.
    """
    if not spec.feature_views:
        return frame
    if EVENT_TIME_COLUMN in frame.columns:
        times = pd.to_datetime(frame[EVENT_TIME_COLUMN], utc=True)
    else:
        times = parse_event_times(frame[spec.record_schema.event_time])
    valid = times.notna().to_numpy()
    times_ns = np.where(valid, times.to_numpy(dtype="datetime64[ns]").astype(np.int64), 0)
    kinds = spec.view_feature_kinds
    out = frame.copy()
    for view in spec.feature_views:
        keys = entity_keys(frame[view.entity])
        order, lo, hi = _history_ranges(keys, times_ns, valid & keys.notna().to_numpy(), view)
        for feature in view.features:
            source = None if feature.column is None else frame[feature.column].iloc[order]
            categorical = kinds[feature.name] == "categorical"
            values = _feature_values(source, feature, categorical, lo, hi)
            unsorted = np.empty(len(frame), dtype=values.dtype)
            unsorted[order] = values
            out[feature.name] = unsorted
    return out
