"""Check a spec's estimator parameters and search space the way scikit-learn would, unfitted.

The registry runs this when a spec is applied, so ``C: -1`` or a misspelt ``max_iters``
is refused with the path to the field instead of failing the first training run hours
later. It uses each estimator's own parameter constraints (``_validate_params``, what
``fit`` checks first); checks that need data or combine parameters (e.g. a solver that
does not support a penalty) still happen only at fit.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline

from continuum.contracts import PipelineSpec
from continuum.contracts.pipeline_spec import Distribution
from continuum.modelkit.pipeline import (
    MODEL_STEP,
    PREPROCESS_STEP,
    RESERVED_PARAMS,
    build_preprocessor,
    estimator_class,
    estimator_family,
    pipeline_param_name,
)


@dataclass(frozen=True)
class SpecProblem:
    """One thing wrong with a spec: the dotted path to the field and why."""

    path: str
    reason: str


def _value_problem(owner: BaseEstimator, param: str, value: Any) -> str | None:
    """Why ``owner`` would refuse ``param=value`` at fit, or None if it accepts it."""
    try:
        candidate = clone(owner).set_params(**{param: value})
        # Validates every constructor parameter against the class's constraints; the
        # others are the defaults, so any complaint is about this one.
        candidate._validate_params()
    except (ValueError, TypeError) as exc:  # sklearn's InvalidParameterError is both
        return str(exc)
    return None


def _unknown(owner_name: str, param: str, valid: list[str]) -> str:
    reason = f"{owner_name} has no parameter {param!r}"
    close = difflib.get_close_matches(param, valid, n=1)
    return f"{reason}; did you mean {close[0]!r}?" if close else reason


def _reserved(spec: PipelineSpec, param: str) -> str | None:
    family = estimator_family(spec.model.estimator)
    if param in RESERVED_PARAMS[family]:
        return f"{param!r} is set by Continuum from the schema's categorical features"
    return None


def _check_params(spec: PipelineSpec, model: BaseEstimator) -> list[SpecProblem]:
    valid = sorted(model.get_params(deep=False))
    problems = []
    for param, value in spec.model.params.items():
        path = f"model.params.{param}"
        if param not in valid:
            reason: str | None = _unknown(spec.model.estimator, param, valid)
        else:
            reason = _reserved(spec, param) or _value_problem(model, param, value)
        if reason:
            problems.append(SpecProblem(path, reason))
    return problems


def _drawn_values(dim: Distribution) -> list[Any]:
    """The extreme values a distribution can draw, typed as the search will draw them."""
    if dim.distribution == "randint":
        return [int(dim.low), int(dim.high) - 1]  # scipy's randint excludes high
    return [float(dim.low), float(dim.high)]


def _check_dimension(path: str, owner: BaseEstimator, param: str, dim: Any) -> list[SpecProblem]:
    if isinstance(dim, Distribution):
        if dim.distribution == "randint" and int(dim.high) <= int(dim.low):
            return [SpecProblem(path, "randint draws integers in [low, high): there are none")]
        for value in _drawn_values(dim):
            reason = _value_problem(owner, param, value)
            if reason:
                return [SpecProblem(path, f"{dim.distribution} can draw {value!r}: {reason}")]
        return []
    problems = []
    for index, value in enumerate(dim):
        reason = _value_problem(owner, param, value)
        if reason:
            problems.append(SpecProblem(f"{path}.{index}", reason))
    return problems


def _check_search(spec: PipelineSpec, model: BaseEstimator) -> list[SpecProblem]:
    search = spec.model.search
    if search is None:
        return []
    # The pipeline as the search sees it (model params do not matter for the names).
    pipeline = Pipeline([(PREPROCESS_STEP, build_preprocessor(spec)), (MODEL_STEP, model)])
    objects = pipeline.get_params(deep=True)
    has_categoricals = any(f.type == "categorical" for f in spec.record_schema.features)
    boosting = estimator_family(spec.model.estimator) == "boosting"
    problems: list[SpecProblem] = []
    for name, dim in search.params.items():
        path = f"model.search.params.{name}"
        full = pipeline_param_name(name)
        owner_path, _, param = full.rpartition("__")
        owner = objects.get(owner_path)
        if not isinstance(owner, BaseEstimator) or full not in objects:
            valid = [key.removeprefix(f"{MODEL_STEP}__") for key in objects]
            problems.append(SpecProblem(path, _unknown("the pipeline", name, valid)))
            continue
        if owner_path == MODEL_STEP:
            reason = _reserved(spec, param)
            if reason is None and boosting and has_categoricals and param == "max_bins":
                reason = (
                    "max_bins also caps the categories kept per categorical feature, so "
                    "it is fixed for a run: set it in model.params instead"
                )
            if reason:
                problems.append(SpecProblem(path, reason))
                continue
        problems.extend(_check_dimension(path, owner, param, dim))
    return problems


def validate_model_spec(spec: PipelineSpec) -> list[SpecProblem]:
    """Every problem scikit-learn would raise for the spec's estimator params and search.

    Checks, without fitting: unknown parameter names (with a close match if there is
    one), parameters Continuum sets itself, values outside each parameter's constraints,
    search names that address nothing in the pipeline, and search choices or
    distribution ends that would be refused. An empty list means the spec is accepted.
    """
    model = estimator_class(spec.model.estimator)()
    return _check_params(spec, model) + _check_search(spec, model)
