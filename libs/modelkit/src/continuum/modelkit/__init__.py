"""Builds, trains, scores, saves and securely loads scikit-learn pipelines from a spec.

Training and serving share :func:`records_to_frame` and :func:`build_pipeline`, so a
model sees the same inputs in both. Models are saved with skops and loaded only after
their sha256 matches and every type in them is on :data:`ALLOWLIST`.
"""

from continuum.modelkit.feature_views import entity_keys, join_views, view_values_as_of
from continuum.modelkit.frames import (
    EVENT_TIME_COLUMN,
    coerce_features,
    feature_columns,
    input_kinds,
    labelled_rows,
    labels,
    parse_event_times,
    records_to_frame,
    target_values,
    training_frame,
)
from continuum.modelkit.loaded import (
    PREDICTION_COLUMN,
    REFERENCE_MAX_ROWS,
    LoadedModel,
    Predictions,
    build_reference_sample,
    frame_to_parquet,
    load_champion,
    parquet_to_frame,
    read_reference_sample,
)
from continuum.modelkit.metrics import (
    SEARCH_SCORING,
    ModelOutputs,
    metrics_of,
    model_outputs,
    score,
)
from continuum.modelkit.model_card import ModelCard, code_version, package_versions
from continuum.modelkit.pipeline import (
    MODEL_STEP,
    build_pipeline,
    build_preprocessor,
    estimator_class,
    make_estimator,
)
from continuum.modelkit.serialization import (
    ALLOWLIST,
    UntrustedModelError,
    dump_model,
    load_model,
    untrusted_types,
)
from continuum.modelkit.slices import (
    SliceEvaluation,
    SliceScore,
    define_slices,
    evaluate_slices,
)
from continuum.modelkit.spec_checks import SpecProblem, validate_model_spec
from continuum.modelkit.training import (
    FitResult,
    Holdout,
    apply_window,
    fit,
    search_distributions,
    time_holdout,
)

__all__ = [
    "ALLOWLIST",
    "EVENT_TIME_COLUMN",
    "MODEL_STEP",
    "PREDICTION_COLUMN",
    "REFERENCE_MAX_ROWS",
    "SEARCH_SCORING",
    "FitResult",
    "Holdout",
    "LoadedModel",
    "ModelCard",
    "ModelOutputs",
    "Predictions",
    "SliceEvaluation",
    "SliceScore",
    "SpecProblem",
    "UntrustedModelError",
    "apply_window",
    "build_pipeline",
    "build_preprocessor",
    "build_reference_sample",
    "code_version",
    "coerce_features",
    "define_slices",
    "dump_model",
    "entity_keys",
    "estimator_class",
    "evaluate_slices",
    "feature_columns",
    "fit",
    "frame_to_parquet",
    "input_kinds",
    "join_views",
    "labelled_rows",
    "labels",
    "load_champion",
    "load_model",
    "make_estimator",
    "metrics_of",
    "model_outputs",
    "package_versions",
    "parquet_to_frame",
    "parse_event_times",
    "read_reference_sample",
    "records_to_frame",
    "score",
    "search_distributions",
    "target_values",
    "time_holdout",
    "training_frame",
    "untrusted_types",
    "validate_model_spec",
    "view_values_as_of",
]
