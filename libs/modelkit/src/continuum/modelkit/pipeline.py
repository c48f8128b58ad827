"""A scikit-learn Pipeline from a spec: preprocessing per column type plus the estimator."""

from __future__ import annotations

import importlib
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from continuum.contracts import ESTIMATORS, PipelineSpec

MODEL_STEP = "model"
"""The estimator's step name: search parameters are addressed as ``model__<param>``."""

PREPROCESS_STEP = "preprocess"


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
    """An unfitted allowlisted estimator; unknown parameters raise ``ValueError``."""
    cls = estimator_class(name)
    valid = cls().get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {unknown}")
    return cls(**params)


def build_preprocessor(spec: PipelineSpec) -> ColumnTransformer:
    """Median-impute + scale numerics; most-frequent-impute + one-hot categoricals."""
    features = spec.record_schema.features
    numeric = [f.name for f in features if f.type == "numeric"]
    categorical = [f.name for f in features if f.type == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(
            (
                "numeric",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                Pipeline(
                    [
                        (
                            "impute",
                            SimpleImputer(strategy="most_frequent", keep_empty_features=True),
                        ),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                categorical,
            )
        )
    return ColumnTransformer(transformers, remainder="drop")


def build_pipeline(spec: PipelineSpec) -> Pipeline:
    """The unfitted Pipeline (preprocessing + estimator with ``spec.model.params``)."""
    return Pipeline(
        [
            (PREPROCESS_STEP, build_preprocessor(spec)),
            (MODEL_STEP, make_estimator(spec.model.estimator, dict(spec.model.params))),
        ]
    )
