"""modelkit: build, fit, score, hold out, search, save and load safely."""

from __future__ import annotations

import operator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from continuum.contracts import (
    ESTIMATORS,
    METRICS_BY_TASK,
    DataVersion,
    ModelArtifacts,
    PipelineSpec,
)
from continuum.modelkit import (
    ALLOWLIST,
    EVENT_TIME_COLUMN,
    PREDICTION_COLUMN,
    ModelCard,
    UntrustedModelError,
    apply_window,
    build_pipeline,
    build_reference_sample,
    dump_model,
    feature_columns,
    fit,
    frame_to_parquet,
    labels,
    load_champion,
    load_model,
    read_reference_sample,
    records_to_frame,
    score,
    time_holdout,
    training_frame,
)
from continuum.storage import IntegrityError, MemoryObjectStore, sha256_hex

SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "RandomForestClassifier": {"n_estimators": 10, "random_state": 0},
    "RandomForestRegressor": {"n_estimators": 10, "random_state": 0},
    "HistGradientBoostingClassifier": {"max_iter": 20},
    "HistGradientBoostingRegressor": {"max_iter": 20},
}


def make_spec(estimator: str = "LogisticRegression", **overrides: Any) -> PipelineSpec:
    task = ESTIMATORS[estimator][1]
    data: dict[str, Any] = {
        "name": "demo",
        "source_topic": "demo.records",
        "task": task,
        "schema": {
            "features": [
                {"name": "distance", "type": "numeric"},
                {"name": "hour", "type": "numeric"},
                {"name": "carrier", "type": "categorical"},
            ],
            "target": {"name": "late"},
            "event_time": "ts",
        },
        "model": {"estimator": estimator, "params": SMALL_PARAMS.get(estimator, {})},
        "promotion": {"metric": "roc_auc" if task == "binary_classification" else "rmse"},
    }
    for key, value in overrides.items():
        data[key] = value
    return PipelineSpec.model_validate(data)


def make_records(
    n: int, *, task: str = "binary_classification", seed: int = 0
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    start = datetime(2013, 1, 1, tzinfo=UTC)
    records = []
    for i in range(n):
        distance = float(rng.uniform(100, 3000))
        hour = float(rng.integers(5, 23))
        carrier = str(rng.choice(["AA", "UA", "DL", "B6"]))
        signal = (hour - 14) / 5 + (carrier == "B6") * 1.0 + rng.normal(scale=0.8)
        target: Any = int(signal > 0.3) if task == "binary_classification" else signal * 10
        records.append(
            {
                "distance": distance if i % 17 else None,
                "hour": hour,
                "carrier": carrier if i % 23 else None,
                "late": target,
                "ts": (start + timedelta(hours=i)).isoformat(),
            }
        )
    return records


def raw_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records)


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_build_fit_and_score_every_allowlisted_estimator(estimator: str) -> None:
    spec = make_spec(estimator)
    frame, y = training_frame(spec, raw_frame(make_records(300, task=spec.task)))
    split = time_holdout(frame, y, 0.25)
    result = fit(spec, split.train, split.y_train)
    metrics = score(result.pipeline, feature_columns(spec, split.test), split.y_test, spec.task)
    assert set(metrics) == set(METRICS_BY_TASK[spec.task])
    assert all(np.isfinite(v) for v in metrics.values())
    if spec.task == "binary_classification":
        assert metrics["roc_auc"] > 0.7  # the signal is learnable


def test_pipeline_has_the_spec_columns_and_params() -> None:
    spec = make_spec(
        "LogisticRegression", model={"estimator": "LogisticRegression", "params": {"C": 0.5}}
    )
    pipeline = build_pipeline(spec)
    assert pipeline.named_steps["model"].C == 0.5
    pre = pipeline.named_steps["preprocess"]
    assert [cols for _, _, cols in pre.transformers] == [["distance", "hour"], ["carrier"]]


def test_unknown_estimator_params_are_refused() -> None:
    spec = make_spec(
        model={"estimator": "Ridge", "params": {"not_a_param": 1}},
        task="regression",
        promotion={"metric": "rmse"},
    )
    with pytest.raises(ValueError, match="not_a_param"):
        build_pipeline(spec)


def test_records_to_frame_types_and_order() -> None:
    spec = make_spec()
    frame = records_to_frame(
        spec, [{"carrier": 7, "hour": "3", "distance": None, "extra": 1}, {"hour": 4.5}]
    )
    assert list(frame.columns) == ["distance", "hour", "carrier"]
    assert frame["distance"].dtype == float and frame["hour"].tolist() == [3.0, 4.5]
    assert np.isnan(frame.loc[0, "distance"])
    assert frame["carrier"].dtype == object and frame.loc[0, "carrier"] == "7"
    assert pd.isna(frame.loc[1, "carrier"])
    assert labels(spec, [{"late": True}, {"late": 0.0}]).tolist() == [1, 0]
    with pytest.raises(KeyError):
        labels(spec, [{"late": None}])


def test_holdout_is_the_most_recent_slice() -> None:
    spec = make_spec()
    records = make_records(100)
    shuffled = [records[i] for i in np.random.default_rng(1).permutation(100)]
    frame, y = training_frame(spec, raw_frame(shuffled))
    split = time_holdout(frame, y, 0.2)
    assert len(split.test) == 20 and len(split.train) == 80
    assert split.train[EVENT_TIME_COLUMN].max() < split.test[EVENT_TIME_COLUMN].min()
    assert split.test[EVENT_TIME_COLUMN].is_monotonic_increasing


def test_unlabelled_rows_are_dropped_and_window_keeps_the_latest() -> None:
    records = make_records(50)
    for r in records[:10]:
        r["late"] = None
    spec = make_spec(training={"window_rows": 20, "min_rows": 10})
    frame, y = training_frame(spec, raw_frame(records))
    assert len(frame) == 40
    windowed, wy = apply_window(spec, frame, y)
    assert len(windowed) == 20 and len(wy) == 20
    assert windowed[EVENT_TIME_COLUMN].min() == frame[EVENT_TIME_COLUMN].iloc[-20]
    days = make_spec(training={"window_days": 1})
    windowed, _ = apply_window(days, frame, y)
    assert len(windowed) == 25  # hourly rows: the last day plus its start


def test_dump_load_round_trip_gives_identical_predictions() -> None:
    spec = make_spec("HistGradientBoostingClassifier")
    frame, y = training_frame(spec, raw_frame(make_records(200)))
    pipeline = fit(spec, frame, y).pipeline
    data = dump_model(pipeline)
    loaded = load_model(data, expected_sha256=sha256_hex(data))
    inputs = feature_columns(spec, frame)
    np.testing.assert_array_equal(loaded.predict_proba(inputs), pipeline.predict_proba(inputs))


def test_tampered_bytes_raise_integrity_error() -> None:
    spec = make_spec()
    frame, y = training_frame(spec, raw_frame(make_records(100)))
    data = dump_model(fit(spec, frame, y).pipeline)
    digest = sha256_hex(data)
    tampered = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(IntegrityError):
        load_model(tampered, expected_sha256=digest)


def test_non_allowlisted_types_are_refused_with_their_names() -> None:
    inputs = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    evil = Pipeline([("f", FunctionTransformer(operator.neg)), ("m", make_estimator_ridge())])
    evil.fit(inputs, [1.0, 2.0, 3.0, 4.0])
    data = sio.dumps(evil)
    with pytest.raises(UntrustedModelError, match=r"_operator\.neg") as info:
        load_model(data, expected_sha256=sha256_hex(data))
    assert info.value.types == ["_operator.neg"]


def make_estimator_ridge() -> Any:
    from sklearn.linear_model import Ridge

    return Ridge()


@pytest.mark.parametrize("estimator", sorted(ESTIMATORS))
def test_allowlist_covers_every_allowlisted_estimator(estimator: str) -> None:
    spec = make_spec(estimator)
    frame, y = training_frame(spec, raw_frame(make_records(60, task=spec.task)))
    data = dump_model(fit(spec, frame, y).pipeline)
    assert set(sio.get_untrusted_types(data=data)) <= set(ALLOWLIST)


def test_search_space_produces_a_fitted_best_estimator() -> None:
    spec = make_spec(
        model={
            "estimator": "LogisticRegression",
            "params": {"max_iter": 200},
            "search": {
                "params": {
                    "C": {"distribution": "loguniform", "low": 0.01, "high": 10},
                    "class_weight": [None, "balanced"],
                },
                "n_candidates": 6,
                "cv": 2,
            },
        }
    )
    frame, y = training_frame(spec, raw_frame(make_records(300)))
    result = fit(spec, frame, y)
    assert 0.01 <= result.params["C"] <= 10
    assert result.params["class_weight"] in (None, "balanced")
    assert result.params["max_iter"] == 200
    assert result.search_results["n_candidates"] >= 6
    assert result.pipeline.predict(feature_columns(spec, frame)).shape == (300,)


def test_randint_and_uniform_search_dimensions() -> None:
    spec = make_spec(
        "HistGradientBoostingRegressor",
        model={
            "estimator": "HistGradientBoostingRegressor",
            "params": {"max_iter": 10},
            "search": {
                "params": {
                    "max_depth": {"distribution": "randint", "low": 2, "high": 5},
                    "learning_rate": {"distribution": "uniform", "low": 0.05, "high": 0.3},
                },
                "n_candidates": 4,
                "cv": 2,
            },
        },
    )
    frame, y = training_frame(spec, raw_frame(make_records(200, task="regression")))
    result = fit(spec, frame, y)
    assert isinstance(result.params["max_depth"], int) and 2 <= result.params["max_depth"] < 5
    assert 0.05 <= result.params["learning_rate"] <= 0.3


def _store_version(store: MemoryObjectStore, spec: PipelineSpec) -> tuple[ModelArtifacts, Any]:
    frame, y = training_frame(spec, raw_frame(make_records(150)))
    pipeline = fit(spec, frame, y).pipeline
    reference = build_reference_sample(spec, pipeline, frame, max_rows=100)
    card = ModelCard(
        pipeline=spec.name,
        run_id="r1",
        spec_version=1,
        task=spec.task,
        estimator=spec.model.estimator,
        metric="roc_auc",
        metrics={"roc_auc": 0.9},
        data_version=DataVersion.of(["b1"]),
        rows_train=120,
        rows_holdout=30,
    )
    artifacts = ModelArtifacts(
        model=store.put("m/model.skops", dump_model(pipeline)),
        reference_sample=store.put("m/reference.parquet", frame_to_parquet(reference)),
        model_card=store.put("m/model_card.json", card.to_json_bytes()),
    )
    return artifacts, pipeline


def test_load_champion_predicts_labels_and_probabilities() -> None:
    store = MemoryObjectStore("memory://modelkit-champion")
    spec = make_spec()
    artifacts, pipeline = _store_version(store, spec)
    champion = load_champion(store, artifacts, spec, 3)
    records = make_records(5, seed=9)
    predictions = champion.predict(records_to_frame(spec, records))
    assert champion.version == 3
    assert predictions.labels == pipeline.predict(records_to_frame(spec, records)).tolist()
    assert all(isinstance(v, int) for v in predictions.labels)
    assert predictions.probabilities is not None
    assert set(predictions.probabilities[0]) == {"0", "1"}
    assert sum(predictions.probabilities[0].values()) == pytest.approx(1.0)

    reference = read_reference_sample(store, artifacts)
    assert list(reference.columns) == ["distance", "hour", "carrier", PREDICTION_COLUMN]
    assert len(reference) == 100

    store.objects["m/model_card.json"] = b"{}"
    with pytest.raises(IntegrityError):
        load_champion(store, artifacts, spec, 3)


def test_model_card_records_versions() -> None:
    card = ModelCard(
        pipeline="demo",
        run_id="r",
        spec_version=1,
        task="regression",
        estimator="Ridge",
        metric="rmse",
        metrics={"rmse": 1.0},
        data_version=DataVersion.of([]),
        rows_train=1,
        rows_holdout=1,
    )
    assert {"scikit-learn", "skops", "numpy", "pandas"} <= set(card.package_versions)
    assert card.code_version
    assert ModelCard.model_validate_json(card.to_json_bytes()) == card
