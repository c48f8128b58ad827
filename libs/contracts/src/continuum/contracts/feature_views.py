"""Feature views: named per-entity features ingest computes from the source stream.

A spec's ``feature_views:`` section. Each view is keyed by an ``entity`` column of the
source record and lists features, each one function of one source column over that
entity's recent events (the last ``window_events`` events, the events of the last
``window_seconds`` of event time, both, or, with neither, every event so far).

Semantics, shared by ingest (online), training (point-in-time join) and serving:

* A view's values for entity ``e`` *as of time t* aggregate the events of ``e`` whose
  event time is strictly before ``t``, within the window if any: ``window_seconds=T``
  keeps events with ``t - T < event_time < t``; ``window_events=N`` then keeps the newest
  ``N`` of those. Events are ordered by event time, ties by their order in the stream
  (partition, then offset).
* Missing values (null or absent) of the source column are skipped: ``latest`` is the
  newest non-missing value, ``sum``/``mean``/``min``/``max`` use the non-missing values,
  ``count`` without a column counts events and with a column its non-missing values.
* A feature with nothing to aggregate takes ``default`` (``None``: missing, left to the
  model's imputer); ``count`` is then ``0`` (it may not set a default).
* Online, ``t`` is just after the newest event of the entity that ingest folded in (its
  ``as_of``): the window ends at and includes ``as_of``.

View features are extra model inputs: a model takes the schema's features then the
views' features, in spec order (:func:`model_input_columns`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from continuum.contracts.record_schema import ColumnName, SpecModel

if TYPE_CHECKING:
    from continuum.contracts.record_schema import RecordSchema

ViewFunction = Literal["latest", "count", "sum", "mean", "min", "max"]
ColumnKind = Literal["numeric", "categorical"]

NUMERIC_FUNCTIONS: frozenset[str] = frozenset({"sum", "mean", "min", "max"})
"""Functions that need a numeric source column."""


class ViewFeature(SpecModel):
    """One feature of a view: ``function`` of ``column`` over the entity's window."""

    name: ColumnName = Field(description="The model-input column this feature becomes.")
    function: ViewFunction
    column: ColumnName | None = Field(
        default=None,
        description="Source column (a schema feature, the target or the entity id); "
        "None only for count (count events).",
    )
    default: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="Value when the window holds nothing to aggregate (None: missing).",
    )

    @property
    def empty_value(self) -> float | None:
        """The value of this feature for an entity with nothing in its window."""
        return 0.0 if self.function == "count" else self.default


class FeatureView(SpecModel):
    """Named per-entity features, keyed by ``entity``, over a window of recent events."""

    name: ColumnName
    entity: ColumnName = Field(
        description="Key column of the source record (a schema feature or the entity id);"
        " prediction requests send it."
    )
    window_events: int | None = Field(default=None, ge=1, le=10000)
    window_seconds: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    features: list[ViewFeature] = Field(min_length=1)

    @property
    def source_columns(self) -> list[str]:
        """The record columns this view reads besides the entity and event time."""
        return list(dict.fromkeys(f.column for f in self.features if f.column is not None))


def entity_key(value: object) -> str:
    """The online-store key of an entity value: ``str()``, integral floats without ``.0``.

    A numeric entity column is stored as float64, while a request may send ``7``: both
    must find the same row, so ``7.0`` and ``7`` both key as ``"7"``.
    """
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def source_column_kinds(schema: RecordSchema) -> dict[str, ColumnKind]:
    """Kinds of the record columns a view may read: features, the target, the entity id."""
    kinds: dict[str, ColumnKind] = {f.name: f.type for f in schema.features}
    # A binary target is stored as integer labels and a regression one as floats.
    kinds[schema.target.name] = "numeric"
    if schema.entity_id:
        kinds[schema.entity_id] = "categorical"
    return kinds


def view_feature_kinds(schema: RecordSchema, views: list[FeatureView]) -> dict[str, ColumnKind]:
    """Each view feature's kind, in spec order: ``latest`` of a categorical is categorical."""
    sources = source_column_kinds(schema)
    kinds: dict[str, ColumnKind] = {}
    for view in views:
        for feature in view.features:
            categorical = (
                feature.function == "latest"
                and feature.column is not None
                and sources.get(feature.column) == "categorical"
            )
            kinds[feature.name] = "categorical" if categorical else "numeric"
    return kinds


def model_input_columns(schema: RecordSchema, views: list[FeatureView]) -> list[str]:
    """The model's input columns: schema features, then view features, in spec order."""
    return schema.feature_names + [f.name for v in views for f in v.features]


def view_problems(
    schema: RecordSchema, views: list[FeatureView]
) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong with ``views`` for this schema: (location, message) pairs.

    Locations are relative to the spec (``("feature_views", 0, "features", 1, "column")``)
    so an ``apply`` error names the field.
    """
    sources = source_column_kinds(schema)
    entity_columns = [*schema.feature_names, *([schema.entity_id] if schema.entity_id else [])]
    taken = set(sources) | {schema.event_time}
    problems: list[tuple[tuple[str | int, ...], str]] = []
    view_names: set[str] = set()
    for i, view in enumerate(views):
        at: tuple[str | int, ...] = ("feature_views", i)
        if view.name in view_names:
            problems.append(((*at, "name"), f"view name {view.name!r} is used twice"))
        view_names.add(view.name)
        if view.entity not in entity_columns:
            problems.append(
                (
                    (*at, "entity"),
                    f"entity {view.entity!r} is not a schema feature or the entity id;"
                    f" choose one of {entity_columns}",
                )
            )
        for j, feature in enumerate(view.features):
            here = (*at, "features", j)
            if feature.name in taken:
                problems.append(
                    (
                        (*here, "name"),
                        f"feature name {feature.name!r} clashes with a schema column"
                        " or another view feature",
                    )
                )
            taken.add(feature.name)
            for loc, message in _feature_problems(feature, sources):
                problems.append(((*here, *loc), message))
    return problems


def _feature_problems(
    feature: ViewFeature, sources: dict[str, ColumnKind]
) -> list[tuple[tuple[str, ...], str]]:
    if feature.column is None:
        if feature.function != "count":
            return [(("column",), f"{feature.function} needs a column; only count may omit it")]
    elif feature.column not in sources:
        return [
            (
                ("column",),
                f"column {feature.column!r} is not a schema feature, the target or the"
                f" entity id; choose one of {sorted(sources)}",
            )
        ]
    elif feature.function in NUMERIC_FUNCTIONS and sources[feature.column] != "numeric":
        return [
            (
                ("column",),
                f"{feature.function} needs a numeric column; {feature.column!r} is categorical",
            )
        ]
    if feature.default is not None and feature.function == "count":
        return [(("default",), "count is 0 over an empty window; it takes no default")]
    if (
        feature.default is not None
        and feature.function == "latest"
        and feature.column is not None
        and sources.get(feature.column) == "categorical"
    ):
        return [(("default",), "latest of a categorical column takes no numeric default")]
    return []
