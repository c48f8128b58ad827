"""Score a run's candidate and the champion on the holdout: overall and per slice.

Each model predicts once for the whole holdout; the overall metrics and every slice's
are computed from those outputs (:mod:`continuum.modelkit.slices`). Slices are cut from
at most ``SLICE_MAX_ROWS`` holdout rows, sampled as the registry samples the holdout it
scores (same seed), so the card's slice table matches what the registry's gate sees.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from sklearn.pipeline import Pipeline

from continuum.contracts import PipelineSpec
from continuum.modelkit import (
    ModelOutputs,
    SliceEvaluation,
    evaluate_slices,
    feature_columns,
    load_champion,
    metrics_of,
    model_outputs,
)
from continuum.storage import ObjectStore
from continuum.trainer.jobs import ChampionRef

logger = logging.getLogger("continuum.trainer.evaluation")

SLICE_MAX_ROWS = 50_000
"""The registry's default bound on holdout rows it scores (candidate_check)."""


@dataclass(frozen=True)
class HoldoutEvaluation:
    """Candidate and champion on the holdout; the champion's part is empty if it failed."""

    metrics: dict[str, float]
    champion_metrics: dict[str, float]
    champion_error: str | None
    slices: SliceEvaluation | None
    outputs: ModelOutputs
    """The candidate's outputs for every holdout row (the report reuses them)."""


def _champion_outputs(
    champion: ChampionRef | None, store: ObjectStore, holdout: pd.DataFrame
) -> tuple[ModelOutputs | None, str | None]:
    if champion is None:
        return None, None
    try:
        loaded = load_champion(store, champion.artifacts, champion.spec, champion.version)
        inputs = feature_columns(champion.spec, holdout)
        return model_outputs(loaded.pipeline, inputs, champion.spec.task), None
    except Exception as exc:  # the champion failing to score must not sink the candidate
        logger.warning("champion v%s could not be scored: %s", champion.version, exc)
        return None, f"{type(exc).__name__}: {exc}"


def evaluate_holdout(
    spec: PipelineSpec,
    pipeline: Pipeline,
    champion: ChampionRef | None,
    store: ObjectStore,
    holdout: pd.DataFrame,
    y: pd.Series,
) -> HoldoutEvaluation:
    """Overall metrics of both models on the whole holdout, and their slice table."""
    outputs = model_outputs(pipeline, feature_columns(spec, holdout), spec.task)
    theirs, error = _champion_outputs(champion, store, holdout)
    metrics = metrics_of(outputs, y, spec.task) if len(holdout) else {}
    champion_task = champion.spec.task if champion else spec.task
    champion_metrics = metrics_of(theirs, y, champion_task) if theirs and len(holdout) else {}
    try:
        slices = _slices(spec, holdout, y, outputs, theirs)
    except Exception as exc:  # a slice table is an extra: it must not sink the run
        logger.warning("slice evaluation failed: %s", exc)
        slices = None
    return HoldoutEvaluation(metrics, champion_metrics, error, slices, outputs)


def _slices(
    spec: PipelineSpec,
    holdout: pd.DataFrame,
    y: pd.Series,
    outputs: ModelOutputs,
    champion: ModelOutputs | None,
) -> SliceEvaluation:
    rows = pd.Series(range(len(holdout)))
    if len(holdout) > SLICE_MAX_ROWS:
        # The registry's sample: same seed, same size, same order.
        rows = rows.sample(n=SLICE_MAX_ROWS, random_state=0).sort_index()
    positions = rows.to_numpy()
    return evaluate_slices(
        spec,
        holdout.iloc[positions].reset_index(drop=True),
        y.iloc[positions].to_numpy(),
        outputs.rows(positions),
        champion.rows(positions) if champion else None,
    )
