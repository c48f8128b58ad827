"""A champion as serving and the monitor hold it, and the reference sample beside it."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

from continuum.contracts import ModelArtifacts, PipelineSpec
from continuum.modelkit.columnar import ColumnarPipeline, typed_columns
from continuum.modelkit.frames import coerce_features
from continuum.modelkit.serialization import load_model
from continuum.storage import ObjectStore, get_verified

PREDICTION_COLUMN = "prediction"
"""The reference sample's column holding the model's prediction (the monitor reads it)."""

REFERENCE_MAX_ROWS = 5000


def _plain_list(values: Any) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in list(values)]


@dataclass(frozen=True)
class Predictions:
    """Labels (or values) per row; class probabilities per row for classifiers."""

    labels: list[Any]
    probabilities: list[dict[str, float]] | None = None


@cache
def _threadpools() -> Any:
    # Built on first use: by then the model's compiled modules (and their OpenMP) are loaded.
    return ThreadpoolController()


@dataclass(frozen=True)
class LoadedModel:
    """A fitted pipeline with the spec it was trained for and its registry version."""

    pipeline: Pipeline
    spec: PipelineSpec
    version: int

    def predict(self, frame: pd.DataFrame) -> Predictions:
        """Predict for a frame of feature columns (e.g. from ``records_to_frame``).

        Runs with one OpenMP thread (in the calling thread only): HistGradientBoosting
        otherwise starts a thread per core for every call, and on a busy two-core host a
        one-row prediction took ~190 ms instead of ~7 ms.
        """
        features = coerce_features(self.spec, frame)
        with _threadpools().limit(limits=1, user_api="openmp"):
            return self._outputs(self.pipeline, features)

    def predict_records(self, records: Sequence[Mapping[str, Any]]) -> Predictions:
        """What :meth:`predict` gives for ``records_to_frame(spec, records)``, built faster.

        The records are typed once into columns and the fitted pipeline runs on arrays
        (:class:`~continuum.modelkit.columnar.ColumnarPipeline`): no DataFrame per call.
        """
        columns = typed_columns(self.spec, records)
        with _threadpools().limit(limits=1, user_api="openmp"):
            return self._outputs(self.columnar, columns)

    @cached_property
    def columnar(self) -> ColumnarPipeline:
        """The pipeline prepared for :meth:`predict_records` (built on first use)."""
        return ColumnarPipeline(self.pipeline)

    def _outputs(self, runner: Pipeline | ColumnarPipeline, features: Any) -> Predictions:
        # ``runner``: the pipeline on a frame, or its columnar form on typed columns.
        if self.spec.task == "regression" or not hasattr(self.pipeline, "predict_proba"):
            return Predictions(labels=_plain_list(runner.predict(features)))
        # One pass: the labels are the most probable classes (what predict() computes too),
        # which halves the cost of a call dominated by per-call overhead.
        proba = runner.predict_proba(features)
        class_values = self.pipeline.classes_
        names = [str(c) for c in _plain_list(class_values)]
        return Predictions(
            labels=_plain_list(class_values[proba.argmax(axis=1)]),
            # tolist(): Python floats in one C loop (float() per cell cost as much again).
            probabilities=[dict(zip(names, row, strict=True)) for row in proba.tolist()],
        )


def load_champion(
    store: ObjectStore, artifacts: ModelArtifacts, spec: PipelineSpec, version: int
) -> LoadedModel:
    """Read and verify every artifact of a version, then load its model (allowlisted)."""
    data = get_verified(store, artifacts.model)
    # The reference sample and card are checked too: a version is trusted whole or not at all.
    get_verified(store, artifacts.reference_sample)
    get_verified(store, artifacts.model_card)
    pipeline = load_model(data, expected_sha256=artifacts.model.sha256)
    return LoadedModel(pipeline=pipeline, spec=spec, version=version)


def build_reference_sample(
    spec: PipelineSpec,
    pipeline: Pipeline,
    frame: pd.DataFrame,
    *,
    max_rows: int = REFERENCE_MAX_ROWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Up to ``max_rows`` rows of ``frame``'s features plus the model's ``prediction``."""
    features = coerce_features(spec, frame)
    if len(features) > max_rows:
        features = features.sample(n=max_rows, random_state=seed).sort_index()
    features = features.reset_index(drop=True)
    sample = features.copy()
    sample[PREDICTION_COLUMN] = pipeline.predict(features) if len(features) else []
    return sample


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet bytes of a frame (no index)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def parquet_to_frame(data: bytes) -> pd.DataFrame:
    """A frame from Parquet bytes."""
    return pd.read_parquet(io.BytesIO(data))


def read_reference_sample(store: ObjectStore, artifacts: ModelArtifacts) -> pd.DataFrame:
    """The verified reference sample (feature columns + ``prediction``) of a version."""
    return parquet_to_frame(get_verified(store, artifacts.reference_sample))
