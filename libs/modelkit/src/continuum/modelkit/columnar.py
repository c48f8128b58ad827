"""A fitted pipeline run on typed numpy columns: no DataFrame between records and model.

Profiled in serving (py-spy, bench/serving_bench.py), a prediction batch spent most of its
time outside the model: building a DataFrame from records, typing it again
(``coerce_features``), then ``ColumnTransformer`` selecting columns by name and checking
a DataFrame per block. The arithmetic was a few percent. Here the records become one
typed array per feature, once, and the preprocessor's fitted blocks are applied to 2-D
arrays of their columns directly, stacked as ``ColumnTransformer`` stacks them.

The result is the pipeline's own: the same fitted transformers on the same values. The
blocks are copies whose ``feature_names_in_`` is removed, only because scikit-learn
warns when a transformer fitted on a DataFrame is given an array. A pipeline of another
shape (not ``ColumnTransformer`` + estimator, a remainder kept, pandas output) gets a
DataFrame of the typed columns instead: still typed once, never re-typed.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from continuum.contracts import PipelineSpec
from continuum.modelkit.frames import input_kinds

Columns = dict[str, np.ndarray[Any, Any]]
"""One typed array per model input (schema then view features, as ``input_kinds``), in
order (numeric: float64, NaN = missing; categorical: object, strings and NaN), as
:func:`continuum.modelkit.coerce_features` types."""


def _category(value: Any) -> Any:
    # The record contract lets only strings (and None) through; anything else is typed as
    # coerce_features types it, so both paths give the model the same inputs.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return np.nan
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def typed_columns(spec: PipelineSpec, records: Sequence[Mapping[str, Any]]) -> Columns:
    """The features of ``records`` as typed columns (an absent key is a missing value)."""
    columns: Columns = {}
    for name, kind in input_kinds(spec).items():
        if kind == "categorical":
            values = [v if type(v) is str else _category(v) for v in (r.get(name) for r in records)]
            column = np.empty(len(values), dtype=object)
            column[:] = values
        else:
            # numpy turns None into NaN for a float array, as coerce_features does.
            column = np.array([r.get(name) for r in records], dtype=float)
        columns[name] = column
    return columns


def _strip_feature_names(estimator: Any) -> None:
    if "feature_names_in_" in vars(estimator):
        del estimator.feature_names_in_
    for _, step in getattr(estimator, "steps", ()):
        if not isinstance(step, str):
            _strip_feature_names(step)


class ColumnarPipeline:
    """``pipeline.predict``/``predict_proba`` on :data:`Columns` (build once per model)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.estimator: Any = pipeline
        self._blocks: list[tuple[Any, list[str]]] | None = None
        self._sparse = False
        preprocess = pipeline.steps[0][1] if len(pipeline.steps) == 2 else None
        if not isinstance(preprocess, ColumnTransformer) or _pandas_output(preprocess):
            return
        blocks: list[tuple[Any, list[str]]] = []
        for _name, transformer, selected in preprocess.transformers_:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            if not (isinstance(selected, list) and all(isinstance(c, str) for c in selected)):
                return  # columns chosen by index, mask or callable: let sklearn resolve them
            if not isinstance(transformer, str):
                transformer = copy.deepcopy(transformer)
                _strip_feature_names(transformer)
            blocks.append((transformer, selected))
        estimator = pipeline.steps[1][1]
        if "feature_names_in_" in vars(estimator):
            return  # the preprocessor hands it a DataFrame (global pandas output)
        self._blocks = blocks
        self._sparse = bool(preprocess.sparse_output_)
        self.estimator = estimator

    @property
    def columnar(self) -> bool:
        """Whether predictions skip pandas (False: a DataFrame is built per call)."""
        return self._blocks is not None

    def _inputs(self, columns: Columns) -> Any:
        if self._blocks is None:
            return pd.DataFrame(columns, copy=False)
        parts: list[Any] = []
        for transformer, selected in self._blocks:
            block = np.column_stack([columns[name] for name in selected])
            parts.append(block if isinstance(transformer, str) else transformer.transform(block))
        # ColumnTransformer's own stacking: sparse when it decided so at fit, else dense.
        if self._sparse:
            return sparse.hstack(parts).tocsr()
        return np.hstack([p.toarray() if sparse.issparse(p) else p for p in parts])

    def predict(self, columns: Columns) -> np.ndarray[Any, Any]:
        """The pipeline's ``predict``."""
        out: np.ndarray[Any, Any] = self.estimator.predict(self._inputs(columns))
        return out

    def predict_proba(self, columns: Columns) -> np.ndarray[Any, Any]:
        """The pipeline's ``predict_proba``."""
        out: np.ndarray[Any, Any] = self.estimator.predict_proba(self._inputs(columns))
        return out


def _pandas_output(preprocess: ColumnTransformer) -> bool:
    config = getattr(preprocess, "_sklearn_output_config", {})
    return bool(config.get("transform") not in (None, "default"))
