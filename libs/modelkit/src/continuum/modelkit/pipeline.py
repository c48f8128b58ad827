"""A scikit-learn Pipeline from a spec: preprocessing per estimator family plus the estimator.

Each family gets the inputs it works best with:

* linear models (``LogisticRegression``, ``Ridge``): numerics median-imputed and scaled,
  categoricals most-frequent-imputed and one-hot encoded (unseen values: all zeros);
* random forests: numerics median-imputed (trees need no scaling), categoricals
  ordinal-encoded with missing and unseen values as code -1, so one split isolates them
  and a many-valued categorical stays one column instead of a wide one-hot block;
* histogram gradient boosting: numerics passed through with their missing values (the
  model learns where they go), categoricals ordinal-encoded with missing and unseen
  values as NaN and given to the model as native categoricals (``categorical_features``).
  It bins at most ``max_bins`` (255 by default) categories per feature, so rarer values
  beyond that are grouped into one "infrequent" category (``max_categories``).
"""

from __future__ import annotations

import importlib
from typing import Any, Final, Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from continuum.contracts import ESTIMATORS, PipelineSpec
from continuum.modelkit.frames import input_kinds

MODEL_STEP = "model"
"""The estimator's step name: search parameters are addressed as ``model__<param>``."""

PREPROCESS_STEP = "preprocess"

Family = Literal["linear", "forest", "boosting"]

FAMILIES: Final[dict[str, Family]] = {
    "LogisticRegression": "linear",
    "Ridge": "linear",
    "RandomForestClassifier": "forest",
    "RandomForestRegressor": "forest",
    "HistGradientBoostingClassifier": "boosting",
    "HistGradientBoostingRegressor": "boosting",
}
"""Which preprocessing each allowlisted estimator gets (see the module docstring)."""

RESERVED_PARAMS: Final[dict[Family, frozenset[str]]] = {
    "linear": frozenset(),
    "forest": frozenset(),
    # Set from the schema: the categorical columns are known, a spec cannot disagree.
    "boosting": frozenset({"categorical_features"}),
}
"""Estimator parameters Continuum sets itself; a spec may not set or search them."""

HGB_DEFAULT_MAX_BINS: Final = 255


def estimator_family(name: str) -> Family:
    """The preprocessing family of an allowlisted estimator."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"estimator {name!r} is not allowlisted") from None


def estimator_class(name: str) -> type[BaseEstimator]:
    """The class of an allowlisted estimator; any other name is refused.

    Only the import paths in ``continuum.contracts.ESTIMATORS`` are ever imported, so a
    spec cannot make the trainer import arbitrary code.
    """
    try:
        path, _task = ESTIMATORS[name]
    except KeyError:
        raise ValueError(f"estimator {name!r} is not allowlisted") from None
    module_name, _, class_name = path.rpartition(".")
    cls: type[BaseEstimator] = getattr(importlib.import_module(module_name), class_name)
    return cls


def make_estimator(name: str, params: dict[str, Any]) -> BaseEstimator:
    """An unfitted allowlisted estimator; unknown or reserved parameters raise ``ValueError``."""
    cls = estimator_class(name)
    valid = cls().get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {unknown}")
    reserved = sorted(set(params) & RESERVED_PARAMS[estimator_family(name)])
    if reserved:
        raise ValueError(f"{name} parameter(s) {reserved} are set by Continuum from the schema")
    return cls(**params)


def _columns(spec: PipelineSpec) -> tuple[list[str], list[str]]:
    # Schema features then view features (input_kinds): view features get the same
    # imputer/scaler or encoder as a schema feature of their kind.
    kinds = input_kinds(spec)
    numeric = [name for name, kind in kinds.items() if kind == "numeric"]
    categorical = [name for name, kind in kinds.items() if kind == "categorical"]
    return numeric, categorical


def hgb_max_categories(params: dict[str, Any]) -> int:
    """Categories kept per categorical for gradient boosting: its ``max_bins`` (default 255).

    The model refuses a categorical with more distinct values than ``max_bins``; the
    encoder groups the rarest beyond that into one infrequent category instead.
    """
    max_bins = params.get("max_bins", HGB_DEFAULT_MAX_BINS)
    # An invalid max_bins is reported by spec validation; here it must not crash a build.
    valid = isinstance(max_bins, int) and not isinstance(max_bins, bool) and max_bins >= 2
    return max_bins if valid else HGB_DEFAULT_MAX_BINS


def _numeric_step(family: Family) -> Any:
    if family == "boosting":
        return "passthrough"
    impute = ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    if family == "forest":
        return Pipeline([impute])
    return Pipeline([impute, ("scale", StandardScaler())])


def _categorical_step(family: Family, params: dict[str, Any]) -> Any:
    if family == "boosting":
        return OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            max_categories=hgb_max_categories(params),
        )
    if family == "forest":
        return OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
        )
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent", keep_empty_features=True)),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
    )


def pipeline_param_name(name: str) -> str:
    """A spec search name as a Pipeline parameter: bare names are the estimator's own."""
    return name if "__" in name else f"{MODEL_STEP}__{name}"


def build_preprocessor(spec: PipelineSpec) -> ColumnTransformer:
    """Numerics first, then categoricals, each prepared for the spec's estimator family."""
    family = estimator_family(spec.model.estimator)
    numeric, categorical = _columns(spec)
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", _numeric_step(family), numeric))
    if categorical:
        transformers.append(
            ("categorical", _categorical_step(family, dict(spec.model.params)), categorical)
        )
    return ColumnTransformer(transformers, remainder="drop")


def build_pipeline(spec: PipelineSpec) -> Pipeline:
    """The unfitted Pipeline (preprocessing + estimator with ``spec.model.params``)."""
    estimator = make_estimator(spec.model.estimator, dict(spec.model.params))
    numeric, categorical = _columns(spec)
    if estimator_family(spec.model.estimator) == "boosting" and categorical:
        # The preprocessor outputs the numerics first, then one column per categorical.
        mask = [False] * len(numeric) + [True] * len(categorical)
        estimator.set_params(categorical_features=mask)
    return Pipeline([(PREPROCESS_STEP, build_preprocessor(spec)), (MODEL_STEP, estimator)])
