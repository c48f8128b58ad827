"""Prove a candidate works before anything is promoted: load it securely, predict once.

A candidate whose artifact does not match its sha256, holds types outside modelkit's
allowlist, or cannot predict on its own reference sample is registered as rejected.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from continuum.contracts import ModelArtifacts, PipelineSpec
from continuum.storage import ObjectStore


def warm_up() -> None:
    """Import modelkit (sklearn, skops, pandas: seconds) ahead of the first candidate.

    Kept off the start-up path so ``/health`` answers as soon as the API and broker are up.
    """
    importlib.import_module("continuum.modelkit")


class CandidateCheckError(Exception):
    """The candidate cannot be trusted or cannot predict; the message says why."""


class CandidateChecker(Protocol):
    """Raises :class:`CandidateCheckError` if a candidate's artifacts are unusable."""

    def __call__(self, artifacts: ModelArtifacts, spec: PipelineSpec) -> None: ...


class ArtifactCandidateChecker:
    """Loads the candidate from the artifact store and predicts on its reference sample."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def __call__(self, artifacts: ModelArtifacts, spec: PipelineSpec) -> None:
        """Blocking (file reads, skops, sklearn): call it from a worker thread."""
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
