"""Typed frames for drift: the spec's feature columns and the ``prediction`` column.

The trainer writes a reference sample with ``continuum.modelkit``'s coercion (numeric ->
float, categorical -> str, booleans as ``"true"``/``"false"``); the monitor applies the same
rules to logged predictions here so both sides compare like with like, without pulling
scikit-learn in through modelkit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from continuum.contracts import PipelineSpec, Task

PREDICTION_COLUMN = "prediction"
"""The reference sample's column holding the model's prediction."""


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def category_value(value: Any) -> Any:
    """A categorical feature value as modelkit encodes it (str; missing -> NaN)."""
    if _is_missing(value):
        return np.nan
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    return str(value)


def number_value(value: Any) -> float:
    """A numeric feature value as float (missing or unparseable -> NaN)."""
    if _is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def label_key(value: Any) -> Any:
    """A class label as one canonical string: ``1``, ``1.0``, ``True`` and ``"1"`` agree.

    Mirrors modelkit's label rule (integral numbers and booleans are the ints 0/1...).
    """
    if _is_missing(value):
        return np.nan
    if isinstance(value, bool | np.bool_):
        return str(int(value))
    if isinstance(value, int | float | np.number) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class FeatureLayout:
    """Which columns drift is computed on, and how each is typed, for one spec."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    task: Task
    numeric_method: str | None = None
    categorical_method: str | None = None
    column_threshold: float | None = None

    @classmethod
    def of(cls, spec: PipelineSpec) -> FeatureLayout:
        """The layout of a spec's schema, with its monitoring policy's drift methods."""
        features = spec.record_schema.features
        policy = spec.monitoring
        return cls(
            numeric=tuple(f.name for f in features if f.type == "numeric"),
            categorical=tuple(f.name for f in features if f.type == "categorical"),
            task=spec.task,
            numeric_method=policy.numeric_drift_method,
            categorical_method=policy.categorical_drift_method,
            column_threshold=policy.column_drift_threshold,
        )

    @property
    def features(self) -> tuple[str, ...]:
        """Feature columns, numeric first."""
        return self.numeric + self.categorical

    @property
    def prediction_is_numeric(self) -> bool:
        """A regressor's prediction is a number; a classifier's is a category."""
        return self.task == "regression"

    def _prediction_series(self, values: Sequence[Any], index: pd.Index[Any]) -> pd.Series[Any]:
        if self.prediction_is_numeric:
            return pd.Series([number_value(v) for v in values], index=index, dtype=float)
        return pd.Series([label_key(v) for v in values], index=index, dtype=object)

    def window_frame(
        self, features: Sequence[Mapping[str, Any]], predictions: Sequence[Any]
    ) -> pd.DataFrame:
        """Logged predictions (feature dicts and predictions) as a typed frame."""
        index = pd.RangeIndex(len(features))
        data: dict[str, pd.Series[Any]] = {}
        for name in self.numeric:
            data[name] = pd.Series(
                [number_value(row.get(name)) for row in features], index=index, dtype=float
            )
        for name in self.categorical:
            data[name] = pd.Series(
                [category_value(row.get(name)) for row in features], index=index, dtype=object
            )
        data[PREDICTION_COLUMN] = self._prediction_series(predictions, index)
        return pd.DataFrame(data, index=index)

    def reference_frame(self, raw: pd.DataFrame) -> pd.DataFrame:
        """A reference sample typed like :meth:`window_frame` (absent columns are left out)."""
        data: dict[str, pd.Series[Any]] = {}
        for name in self.numeric:
            if name in raw.columns:
                data[name] = pd.to_numeric(raw[name], errors="coerce").astype(float)
        for name in self.categorical:
            if name in raw.columns:
                data[name] = pd.Series(
                    [category_value(v) for v in raw[name].tolist()], index=raw.index, dtype=object
                )
        if PREDICTION_COLUMN in raw.columns:
            data[PREDICTION_COLUMN] = self._prediction_series(
                raw[PREDICTION_COLUMN].tolist(), raw.index
            )
        return pd.DataFrame(data, index=raw.index).reset_index(drop=True)
