"""Folding a batch's events into per-entity feature-view state (pure; no I/O).

State per (view, entity) is a JSON-able dict. A windowed view keeps the entity's events
still inside its window (``window_events`` newest, and/or those within
``window_seconds`` of the newest); a view without a window keeps running partial
aggregates (counts, sums, extremes, the newest value), which merge associatively. Either
way the values are those of :mod:`continuum.contracts.feature_views` as of just after the
entity's newest event. Events are ordered by (event time, partition, offset).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from continuum.contracts import FeatureView, PipelineSpec, entity_key
from continuum.ingest.parquet_batch import SOURCE_OFFSET, SOURCE_PARTITION

Event = list[Any]
"""``[time_us, partition, offset, value of each source column...]``."""
State = dict[str, Any]
_ORDER = itemgetter(0, 1, 2)  # (time, partition, offset): an event's place in history
Value = float | str | None


@dataclass(frozen=True, slots=True)
class EntityEvents:
    """One entity's events of one batch, oldest first."""

    entity: str
    events: list[Event]


def batch_events(spec: PipelineSpec, view: FeatureView, table: pa.Table) -> list[EntityEvents]:
    """The batch's events per entity (rows without an entity are no one's history).

    Column at a time (a Python list per row and a key per row were half of a fold): each
    distinct entity value is keyed once, rows are sorted once, then cut into entity blocks.
    """
    time_us = pc.cast(table.column(spec.record_schema.event_time), pa.int64()).to_numpy()
    partitions = table.column(SOURCE_PARTITION).to_numpy()
    offsets = table.column(SOURCE_OFFSET).to_numpy()
    entities = table.column(view.entity).to_pylist()
    if pa.types.is_string(table.column(view.entity).type):
        # Only strings: 1, 1.0 and True are one dict key but not one entity key.
        key_of = {value: _key(value) for value in set(entities)}
        keys = np.array([key_of[value] for value in entities], dtype=object)
    else:
        keys = np.array([_key(e) for e in entities], dtype=object)
    present = np.array([k is not None for k in keys], dtype=bool)
    rows = np.flatnonzero(present)
    if not len(rows):
        return []
    # One sort for the whole batch: entity blocks, each oldest first.
    order = rows[
        np.lexsort((offsets[rows], partitions[rows], time_us[rows], keys[rows].astype(str)))
    ]
    columns = [
        _cleaned(table.column(c).take(pa.array(order)).to_pylist()) for c in view.source_columns
    ]
    events = list(
        map(
            list,
            zip(
                time_us[order].tolist(),
                partitions[order].tolist(),
                offsets[order].tolist(),
                *columns,
                strict=True,
            ),
        )
    )
    ordered = keys[order]
    starts = [0, *(np.flatnonzero(ordered[1:] != ordered[:-1]) + 1).tolist(), len(order)]
    return [
        EntityEvents(ordered[start], events[start:end]) for start, end in itertools.pairwise(starts)
    ]


def _cleaned(values: list[Any]) -> list[Any]:
    """NaN as None (missing); the list itself when it holds no NaN."""
    if any(isinstance(v, float) and math.isnan(v) for v in values):
        return [_clean(v) for v in values]
    return values


def _key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return entity_key(value)


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def fold(view: FeatureView, state: State | None, events: Sequence[Event]) -> State:
    """The entity's state after ``events`` (new ones; a batch is folded once)."""
    if view.window_events is None and view.window_seconds is None:
        return _fold_running(view, state, events)
    kept = sorted([*(state or {}).get("events", []), *events], key=_ORDER)
    newest = kept[-1][0]
    if view.window_seconds is not None:
        low = newest - round(view.window_seconds * 1_000_000)
        kept = [e for e in kept if e[0] > low]
    if view.window_events is not None:
        kept = kept[-view.window_events :]
    return {"as_of": max(newest, (state or {}).get("as_of", newest)), "events": kept}


def values(view: FeatureView, state: State) -> dict[str, Value]:
    """The view's feature values from an entity's state."""
    if "events" not in state:
        return {
            f.name: _running_value(f.function, f.column, f.empty_value, state, view)
            for f in view.features
        }
    index = {c: 3 + i for i, c in enumerate(view.source_columns)}
    window: list[Event] = state["events"]
    out: dict[str, Value] = {}
    for feature in view.features:
        if feature.column is None:
            out[feature.name] = float(len(window))
            continue
        present = [e[index[feature.column]] for e in window]
        present = [v for v in present if v is not None]
        out[feature.name] = _aggregate(feature.function, present, feature.empty_value)
    return out


def _aggregate(function: str, present: list[Any], empty: float | None) -> Value:
    if function == "count":
        return float(len(present))
    if not present:
        return empty
    if function == "latest":
        last = present[-1]
        return last if isinstance(last, str) else float(last)
    numbers = [float(v) for v in present]
    if function == "sum":
        return math.fsum(numbers)
    if function == "mean":
        return math.fsum(numbers) / len(numbers)
    return min(numbers) if function == "min" else max(numbers)


# -- views without a window: running partial aggregates per source column -------------


def _fold_running(view: FeatureView, state: State | None, events: Sequence[Event]) -> State:
    new: State = {"as_of": None, "events_seen": 0, "columns": {}}
    old = state or new
    new["events_seen"] = old["events_seen"] + len(events)
    new["as_of"] = max([e[0] for e in events] + ([old["as_of"]] if old["as_of"] else []))
    for i, column in enumerate(view.source_columns):
        held = old["columns"].get(column, {"n": 0, "sum": 0.0, "min": None, "max": None})
        part = dict(held)
        latest = held.get("latest")
        for event in events:
            value = event[3 + i]
            if value is None:
                continue
            part["n"] += 1
            if not isinstance(value, str):
                number = float(value)
                part["sum"] += number
                part["min"] = number if part["min"] is None else min(part["min"], number)
                part["max"] = number if part["max"] is None else max(part["max"], number)
            if latest is None or event[:3] >= latest[0]:
                latest = [event[:3], value]
        part["latest"] = latest
        new["columns"][column] = part
    return new


def _running_value(
    function: str, column: str | None, empty: float | None, state: State, view: FeatureView
) -> Value:
    if column is None:
        return float(state["events_seen"])
    part = state["columns"][column]
    if function == "count":
        return float(part["n"])
    if not part["n"]:
        return empty
    if function == "latest":
        last = part["latest"][1]
        return last if isinstance(last, str) else float(last)
    if function == "sum":
        return float(part["sum"])
    if function == "mean":
        return float(part["sum"]) / int(part["n"])
    extreme: float | None = part[function]
    return empty if extreme is None else float(extreme)
