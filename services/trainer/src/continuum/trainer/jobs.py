"""What a training run is given and what it gives back: the runner-worker contract.

A :class:`TrainingJob` is frozen when its run starts and stored with the run in SQLite, so
a run resumed after a crash trains on exactly the inputs its first attempt had. It crosses
to the worker process as that same JSON (:func:`continuum.trainer.worker.run_job`), not
as a pickled model: the worker then validates what a resumed run reads back from SQLite
and what a first attempt is handed in one way, and nothing depends on how pydantic
objects pickle across a ``spawn`` boundary. :class:`TrainingResult` comes back the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass

from continuum.contracts import ModelArtifacts, PipelineSpec, StoredObject, Trigger
from continuum.modelkit import ModelCard


@dataclass(frozen=True)
class TriggerRef:
    """One reason for a run: which event, of which kind, on which chain.

    A (validating) dataclass rather than a model so handlers can build it positionally.
    """

    event_id: str
    kind: Trigger
    correlation_id: str

    def as_json(self) -> dict[str, str]:
        """The trigger as stored in the ``runs.triggers`` column."""
        return {"event_id": self.event_id, "kind": self.kind, "correlation_id": self.correlation_id}


class _Frozen(BaseModel):
    # extra="ignore": a job persisted by an older trainer still loads after an upgrade.
    model_config = ConfigDict(frozen=True, extra="ignore")


class JobBatch(_Frozen):
    """A batch the run reads, with the checksum its bytes must match."""

    batch_id: str
    uri: str
    sha256: str
    size_bytes: int = Field(ge=0)

    def stored(self) -> StoredObject:
        """The batch as an object-store reference (for a sha256-checked read)."""
        return StoredObject(uri=self.uri, sha256=self.sha256, size_bytes=self.size_bytes)


class ChampionRef(_Frozen):
    """The champion the candidate is scored against, with the spec it was trained for."""

    version: int = Field(ge=1)
    artifacts: ModelArtifacts
    spec: PipelineSpec


class TrainingJob(_Frozen):
    """Everything one run needs, frozen when it starts."""

    pipeline: str
    run_id: str
    spec: PipelineSpec
    spec_version: int = Field(ge=1)
    data_root: str
    artifact_root: str
    batches: tuple[JobBatch, ...]
    champion: ChampionRef | None = None
    triggers: tuple[TriggerRef, ...] = Field(min_length=1)
    reference_max_rows: int = Field(ge=1)
    report_max_rows: int = Field(
        default=2000, ge=0, description="Rows per side in the run's report; 0: no report."
    )
    threads: int = Field(ge=1, description="OpenMP/BLAS threads the worker may use.")

    def to_json(self) -> str:
        """The job as stored and as sent to the worker (the spec keeps its aliases)."""
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> TrainingJob:
        """A job from :meth:`to_json` (or from a trainer version that stored a plain dict)."""
        return cls.model_validate_json(text)


class TrainingResult(_Frozen):
    """What a successful run wrote: its artifacts and its model card."""

    artifacts: ModelArtifacts
    card: ModelCard


TrainFn = Callable[[TrainingJob], TrainingResult]
"""Trains one job (the worker's :func:`~continuum.trainer.worker.train_run`; tests swap it)."""
