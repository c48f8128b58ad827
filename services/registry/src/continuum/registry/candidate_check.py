"""Prove a candidate works, then score it and the champion on its holdout, before any gate.

A candidate whose artifact does not match its sha256, holds types outside modelkit's
allowlist, or cannot predict on its own reference sample is registered as rejected
(``load_failed``). One that works is scored by the registry itself on its holdout rows
(an artifact, checked by sha256 like the model), and so is the current champion: the
gate never sees a figure the registry did not compute. A run without a readable holdout
cannot be scored and is rejected (``not_scored``).
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from continuum.contracts import ModelArtifacts, PipelineSpec
from continuum.registry.gate import GateCode, Measured, SliceScores
from continuum.storage import ObjectStore, get_verified

if TYPE_CHECKING:
    import pandas as pd

    from continuum.modelkit import LoadedModel, ModelOutputs

logger = logging.getLogger(__name__)

DEFAULT_MAX_HOLDOUT_ROWS = 50_000


def warm_up() -> None:
    """Import modelkit (sklearn, skops, pandas: seconds) ahead of the first candidate.

    Kept off the start-up path so ``/health`` answers as soon as the API and broker are up.
    """
    importlib.import_module("continuum.modelkit")


class CandidateCheckError(Exception):
    """The candidate cannot be trusted, cannot predict or cannot be scored; says why."""

    code: GateCode = "load_failed"


class NotScoredError(CandidateCheckError):
    """The candidate loads, but the registry cannot score it (no usable holdout)."""

    code: GateCode = "not_scored"


@dataclass(frozen=True)
class ChampionModel:
    """The current champion as the registry stored it, with the spec it was trained for."""

    version: int
    artifacts: ModelArtifacts
    spec: PipelineSpec


class CandidateScorer(Protocol):
    """Checks a candidate and measures it (and the champion) on the candidate's holdout.

    Raises :class:`CandidateCheckError` if the candidate is unusable or cannot be scored.
    """

    def __call__(
        self, artifacts: ModelArtifacts, spec: PipelineSpec, champion: ChampionModel | None
    ) -> Measured: ...


class ArtifactCandidateScorer:
    """Loads models and the holdout from the artifact store; scores at most ``max_rows``."""

    def __init__(self, store: ObjectStore, max_rows: int = DEFAULT_MAX_HOLDOUT_ROWS) -> None:
        self.store = store
        self.max_rows = max_rows

    def __call__(
        self, artifacts: ModelArtifacts, spec: PipelineSpec, champion: ChampionModel | None
    ) -> Measured:
        """Blocking (file reads, skops, sklearn): call it from a worker thread."""
        from continuum.modelkit import (
            feature_columns,
            load_champion,
            metrics_of,
            model_outputs,
            target_values,
        )

        model = self._check(artifacts, spec)
        holdout, total = self._holdout(artifacts)
        try:
            y = target_values(spec, holdout)
            mine = model_outputs(model.pipeline, feature_columns(spec, holdout), spec.task)
            candidate = metrics_of(mine, y, spec.task)
        except Exception as exc:  # a holdout the candidate's spec cannot read
            raise NotScoredError(
                f"scoring the holdout failed: {type(exc).__name__}: {exc}"
            ) from exc
        measured = Measured(candidate=candidate, rows=len(holdout), holdout_rows=total)
        if champion is None:
            return measured
        try:
            loaded = load_champion(self.store, champion.artifacts, champion.spec, champion.version)
            inputs = feature_columns(champion.spec, holdout)
            theirs = model_outputs(loaded.pipeline, inputs, champion.spec.task)
            scores = metrics_of(theirs, y, champion.spec.task)
        except Exception as exc:  # the champion failing must not sink the candidate
            error = f"{type(exc).__name__}: {exc}"[:300]
            return Measured(candidate, len(holdout), total, champion_error=error)
        slices = _slices(spec, holdout, y, mine, theirs)
        return Measured(candidate, len(holdout), total, champion=scores, slices=slices)

    def _check(self, artifacts: ModelArtifacts, spec: PipelineSpec) -> LoadedModel:
        from continuum.modelkit import load_champion, read_reference_sample

        try:
            # version=0: the candidate has no registry version until it is stored.
            model = load_champion(self.store, artifacts, spec, version=0)
            sample = read_reference_sample(self.store, artifacts)
            if sample.empty:
                raise CandidateCheckError("the reference sample is empty")
            predictions = model.predict(sample)
        except CandidateCheckError:
            raise
        except Exception as exc:  # any failure to load or predict disqualifies it
            raise CandidateCheckError(f"{type(exc).__name__}: {exc}") from exc
        if len(predictions.labels) != len(sample):
            raise CandidateCheckError(
                f"predicted {len(predictions.labels)} rows for a sample of {len(sample)}"
            )
        return model

    def _holdout(self, artifacts: ModelArtifacts) -> tuple[pd.DataFrame, int]:
        """The verified holdout (a fixed sample of ``max_rows`` when larger) and its size."""
        from continuum.modelkit import parquet_to_frame

        if artifacts.holdout is None:
            raise NotScoredError("the run stored no holdout, so the registry cannot score it")
        try:
            frame = parquet_to_frame(get_verified(self.store, artifacts.holdout))
        except Exception as exc:
            raise NotScoredError(f"holdout unreadable: {type(exc).__name__}: {exc}") from exc
        if frame.empty:
            raise NotScoredError("the holdout is empty")
        total = len(frame)
        if total > self.max_rows:
            # Seeded, so a redelivered event is scored on the same rows (same decision).
            frame = frame.sample(n=self.max_rows, random_state=0).sort_index()
        return frame.reset_index(drop=True), total


def _slices(
    spec: PipelineSpec,
    holdout: pd.DataFrame,
    y: pd.Series,
    candidate: ModelOutputs,
    champion: ModelOutputs,
) -> tuple[SliceScores, ...]:
    """Both models on every slice of the holdout (the candidate's spec's ``evaluation:``)."""
    from continuum.modelkit import evaluate_slices

    try:
        evaluation = evaluate_slices(spec, holdout, y, candidate, champion)
    except Exception:  # a slice table the registry cannot compute must not sink the gate
        logger.exception("slice evaluation failed; the gate goes on without slices")
        return ()
    return tuple(
        SliceScores(s.name, s.rows, dict(s.metrics), dict(s.champion_metrics))
        for s in evaluation.slices
    )
