"""Gradient boosting with native categoricals; each estimator family's preprocessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from continuum.contracts import ESTIMATORS, PipelineSpec
from continuum.modelkit import (
    ALLOWLIST,
    LoadedModel,
    build_pipeline,
    dump_model,
    feature_columns,
    fit,
    load_model,
    records_to_frame,
    score,
    time_holdout,
    training_frame,
)
from continuum.storage import sha256_hex

N_AIRPORTS = 300  # more than HistGradientBoosting's 255 categories per feature


def make_spec(estimator: str, params: dict[str, Any] | None = None, **model: Any) -> PipelineSpec:
    task = ESTIMATORS[estimator][1]
    return PipelineSpec.model_validate(
        {
            "name": "routes",
            "source_topic": "routes.records",
            "task": task,
            "schema": {
                "features": [
                    {"name": "hour", "type": "numeric"},
                    {"name": "dest", "type": "categorical"},
                    {"name": "carrier", "type": "categorical"},
                ],
                "target": {"name": "late"},
                "event_time": "ts",
            },
            "model": {"estimator": estimator, "params": params or {}, **model},
            "promotion": {"metric": "roc_auc" if task == "binary_classification" else "rmse"},
        }
    )


def make_raw(n: int, *, regression: bool = False, seed: int = 0) -> pd.DataFrame:
    """A late flag driven by a many-valued ``dest`` (every 7th airport is late-prone)."""
    rng = np.random.default_rng(seed)
    # A skewed draw, so some airports are rare and get grouped as infrequent.
    airports = np.minimum(rng.zipf(1.3, n), N_AIRPORTS) - 1
    hours = rng.integers(5, 23, n).astype(float)
    signal = (airports % 7 == 0) * 2.0 + (hours - 14) / 6 + rng.normal(scale=0.5, size=n)
    start = datetime(2013, 1, 1, tzinfo=UTC)
    frame = pd.DataFrame(
        {
            "hour": np.where(np.arange(n) % 13 == 0, np.nan, hours),
            "dest": [f"A{a:03d}" if i % 19 else None for i, a in enumerate(airports)],
            "carrier": rng.choice(["AA", "UA", "DL"], n),
            "late": signal * 10 if regression else (signal > 0.8).astype(int),
            "ts": [(start + timedelta(minutes=i)).isoformat() for i in range(n)],
        }
    )
    return frame


def test_hgb_gets_native_categoricals_and_no_imputation() -> None:
    pipeline = build_pipeline(make_spec("HistGradientBoostingClassifier", {"max_iter": 20}))
    pre = pipeline.named_steps["preprocess"]
    steps = {name: step for name, step, _ in pre.transformers}
    assert steps["numeric"] == "passthrough"  # missing numerics are left to the model
    encoder = steps["categorical"]
    assert isinstance(encoder, OrdinalEncoder) and encoder.max_categories == 255
    assert np.isnan(encoder.unknown_value) and np.isnan(encoder.encoded_missing_value)
    assert pipeline.named_steps["model"].categorical_features == [False, True, True]


def test_encoder_keeps_no_more_categories_than_max_bins() -> None:
    spec = make_spec("HistGradientBoostingClassifier", {"max_iter": 5, "max_bins": 64})
    assert build_pipeline(spec).named_steps["preprocess"].transformers[1][1].max_categories == 64
    frame, y = training_frame(spec, make_raw(3000))
    assert frame["dest"].nunique() > 64
    fit(spec, frame, y)  # more distinct airports than bins: grouped, not refused


def test_other_families_keep_their_preprocessing() -> None:
    linear = build_pipeline(make_spec("LogisticRegression")).named_steps["preprocess"]
    assert [name for name, _ in linear.transformers[0][1].steps] == ["impute", "scale"]
    assert isinstance(linear.transformers[1][1].named_steps["onehot"], OneHotEncoder)
    forest = build_pipeline(make_spec("RandomForestClassifier")).named_steps["preprocess"]
    assert [name for name, _ in forest.transformers[0][1].steps] == ["impute"]
    assert isinstance(forest.transformers[1][1], OrdinalEncoder)
    assert forest.transformers[1][1].unknown_value == -1


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("HistGradientBoostingClassifier", {"max_iter": 50}),
        ("HistGradientBoostingRegressor", {"max_iter": 50}),
        ("RandomForestClassifier", {"n_estimators": 20, "random_state": 0}),
    ],
)
def test_fits_saves_loads_securely_and_serves_unseen_and_missing(
    estimator: str, params: dict[str, Any]
) -> None:
    spec = make_spec(estimator, params)
    regression = spec.task == "regression"
    frame, y = training_frame(spec, make_raw(4000, regression=regression))
    split = time_holdout(frame, y, 0.25)
    pipeline = fit(spec, split.train, split.y_train).pipeline
    metrics = score(pipeline, feature_columns(spec, split.test), split.y_test, spec.task)
    if not regression:
        assert metrics["roc_auc"] > 0.8  # it learns which airports are late-prone

    data = dump_model(pipeline)
    assert set(sio.get_untrusted_types(data=data)) <= set(ALLOWLIST)
    loaded = LoadedModel(load_model(data, expected_sha256=sha256_hex(data)), spec, 1)
    records: list[dict[str, Any]] = [
        {"hour": 9, "dest": "NEVER-SEEN", "carrier": "ZZ"},
        {"hour": None, "dest": None},
        {"dest": "A000", "carrier": "AA", "hour": 20},
    ]
    predictions = loaded.predict(records_to_frame(spec, records))
    expected = pipeline.predict(records_to_frame(spec, records))
    assert predictions.labels == expected.tolist()
    if regression:
        assert all(np.isfinite(predictions.labels))
    else:
        assert predictions.probabilities is not None
        assert all(sum(p.values()) == pytest.approx(1.0) for p in predictions.probabilities)


def test_hgb_search_with_categoricals() -> None:
    spec = make_spec(
        "HistGradientBoostingClassifier",
        {"max_iter": 30},
        search={
            "params": {
                "learning_rate": {"distribution": "loguniform", "low": 0.03, "high": 0.3},
                "max_leaf_nodes": {"distribution": "randint", "low": 8, "high": 32},
                "l2_regularization": [0.0, 1.0],
            },
            "n_candidates": 4,
            "cv": 2,
        },
    )
    frame, y = training_frame(spec, make_raw(2000))
    result = fit(spec, frame, y)
    assert 0.03 <= result.params["learning_rate"] <= 0.3
    assert 8 <= result.params["max_leaf_nodes"] < 32
    assert result.params["max_iter"] == 30
    model = result.pipeline.named_steps["model"]
    assert model.is_categorical_.tolist() == [False, True, True]


class _ThreadCounter:
    """A stand-in pipeline that records how many OpenMP threads a call may use."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def predict(self, features: pd.DataFrame) -> np.ndarray[Any, Any]:
        from threadpoolctl import ThreadpoolController

        [openmp] = ThreadpoolController().select(user_api="openmp").info()
        self.threads.append(openmp["num_threads"])
        return np.zeros(len(features))


def test_serving_predicts_with_one_openmp_thread() -> None:
    from threadpoolctl import threadpool_limits

    spec = make_spec("HistGradientBoostingRegressor")
    counter = _ThreadCounter()
    model = LoadedModel(counter, spec, 1)  # type: ignore[arg-type]
    # The test session runs single-threaded (conftest); serving processes do not.
    with threadpool_limits(limits=2, user_api="openmp"):
        model.predict(records_to_frame(spec, [{"hour": 1}]))
    assert counter.threads == [1]
