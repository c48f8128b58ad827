"""LoadedModel.predict_records (typed columns, no DataFrame) equals LoadedModel.predict."""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from continuum.contracts import ESTIMATORS, PipelineSpec
from continuum.modelkit import LoadedModel, build_pipeline, labels, records_to_frame
from continuum.modelkit.columnar import ColumnarPipeline, typed_columns

CARRIERS = ["UA", "AA", "B6", "DL", "EV"]


def make_spec(estimator: str, params: dict[str, Any]) -> PipelineSpec:
    task = ESTIMATORS[estimator][1]
    return PipelineSpec.model_validate(
        {
            "name": "flights",
            "source_topic": "flights.records",
            "task": task,
            "schema": {
                "features": [
                    {"name": "dep_delay", "type": "numeric"},
                    {"name": "distance", "type": "numeric"},
                    {"name": "hour", "type": "numeric"},
                    {"name": "origin", "type": "categorical", "values": ["EWR", "JFK", "LGA"]},
                    {"name": "carrier", "type": "categorical"},
                ],
                "target": {"name": "late"},
                "event_time": "ts",
            },
            "model": {"estimator": estimator, "params": params},
            "promotion": {"metric": "roc_auc" if task == "binary_classification" else "rmse"},
        }
    )


def make_record(rng: random.Random) -> dict[str, Any]:
    return {
        "dep_delay": rng.uniform(-20, 200),
        "distance": rng.uniform(100, 2500) if rng.random() > 0.1 else None,
        "hour": rng.randrange(5, 23),  # an int, as JSON gives it
        "origin": rng.choice(["EWR", "JFK", "LGA"]),
        "carrier": rng.choice([*CARRIERS, None]),
    }


def fitted(estimator: str, params: dict[str, Any]) -> LoadedModel:
    spec = make_spec(estimator, params)
    rng = random.Random(0)
    records = [make_record(rng) for _ in range(400)]
    for r in records:
        late = r["dep_delay"] + rng.gauss(0, 25) > 40
        r["late"] = float(r["dep_delay"]) if spec.task == "regression" else int(late)
    pipeline = build_pipeline(spec).fit(records_to_frame(spec, records), labels(spec, records))
    return LoadedModel(pipeline=pipeline, spec=spec, version=1)


def requests(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = [make_record(rng) for _ in range(150)]
    records += [
        {"dep_delay": 12.5, "origin": "JFK"},  # absent keys are missing values
        {"dep_delay": None, "distance": None, "hour": None, "origin": None, "carrier": None},
        {"dep_delay": 3.0, "distance": 800.0, "hour": 9, "origin": "EWR", "carrier": "ZZ"},
    ]
    return records


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("LogisticRegression", {"max_iter": 300}),
        ("RandomForestClassifier", {"n_estimators": 15, "random_state": 0}),
        ("HistGradientBoostingClassifier", {"max_iter": 25}),
        ("Ridge", {}),
        ("RandomForestRegressor", {"n_estimators": 10, "random_state": 0}),
        ("HistGradientBoostingRegressor", {"max_iter": 25}),
    ],
)
def test_predict_records_equals_predict_on_a_frame(estimator: str, params: dict[str, Any]) -> None:
    model = fitted(estimator, params)
    assert model.columnar.columnar  # the array path runs, not the DataFrame fallback
    for size in (1, 7, 153):
        records = requests(seed=size)[-size:]
        expected = model.predict(records_to_frame(model.spec, records))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. "X does not have valid feature names"
            got = model.predict_records(records)
        assert got.labels == expected.labels
        assert got.probabilities == expected.probabilities
        assert [type(v) for v in got.labels] == [type(v) for v in expected.labels]


def test_typed_columns_type_as_coerce_features_does() -> None:
    spec = make_spec("LogisticRegression", {})
    records: list[dict[str, Any]] = [
        {"dep_delay": 1, "distance": None, "origin": "EWR", "carrier": True},
        {"dep_delay": float("nan"), "hour": 3.5, "origin": None, "carrier": 7},
    ]
    columns = typed_columns(spec, records)
    frame = records_to_frame(spec, records)
    assert list(columns) == list(frame.columns)
    for name, column in columns.items():
        assert column.dtype == frame[name].dtype
        assert _plain(column) == _plain(frame[name].to_numpy())


def _plain(values: Any) -> list[Any]:
    # NaN != NaN: "missing" compares equal here, and the value types must agree too.
    return [("NaN", type(v)) if v != v else (v, type(v)) for v in values]


@pytest.mark.parametrize(
    ("columns", "remainder", "sparse", "columnar"),
    [
        (["origin", "carrier"], "passthrough", False, True),  # the remainder comes last
        (["origin", "carrier"], "drop", True, True),  # one-hot kept sparse
        ([3, 4], "passthrough", False, False),  # by position: ColumnTransformer resolves it
    ],
)
def test_other_column_transformers_predict_as_the_pipeline(
    columns: list[Any], remainder: str, sparse: bool, columnar: bool
) -> None:
    spec = make_spec("LogisticRegression", {})
    rng = random.Random(1)
    records = [make_record(rng) | {"distance": 500.0, "carrier": "UA"} for _ in range(60)]
    y = [i % 2 for i in range(60)]
    pre = ColumnTransformer(
        [("categorical", OneHotEncoder(handle_unknown="ignore"), columns)],
        remainder=remainder,
        sparse_threshold=1.0 if sparse else 0.0,
    )
    frame = records_to_frame(spec, records)
    pipeline = Pipeline([("preprocess", pre), ("model", LogisticRegression())]).fit(frame, y)
    assert pre.sparse_output_ is sparse
    runner = ColumnarPipeline(pipeline)
    assert runner.columnar is columnar
    got = runner.predict_proba(typed_columns(spec, records))
    np.testing.assert_array_equal(got, pipeline.predict_proba(frame))
