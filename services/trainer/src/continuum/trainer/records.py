"""The trainer's state as values: batches, runs, failures, and how a run gets its id.

:class:`continuum.trainer.state.TrainerState` stores and returns these; nothing here
touches the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from continuum.trainer.jobs import TrainingJob, TriggerRef

RUN_NAMESPACE = uuid.UUID("5f0c6a8e-3b1d-4c2a-9f7e-6d4b2a1c0e93")
"""Namespace of every id the trainer derives (run ids, ModelTrained event ids)."""


@dataclass(frozen=True)
class BatchRef:
    """A batch the trainer knows (from ``DataBatchReady``)."""

    batch_id: str
    uri: str
    sha256: str
    size_bytes: int
    rows: int
    labelled_rows: int
    min_event_time: str | None = None
    max_event_time: str | None = None


RunStatus = Literal["queued", "running", "done"]
"""``queued`` while collecting triggers, ``running`` once its job is frozen, ``done`` once
its ``ModelTrained`` is published, or it was skipped (outcome ``skipped``: same data as the
last successful run)."""


@dataclass(frozen=True)
class Run:
    """A training run and the triggers it covers.

    ``job`` is set once the run is ``running``; a running run whose stored job can no
    longer be read (written by an incompatible trainer) has ``job=None`` and is failed.
    """

    run_id: str
    pipeline: str
    status: RunStatus
    triggers: list[TriggerRef]
    job: TrainingJob | None
    created_at: datetime

    @property
    def automatic(self) -> bool:
        """Whether anything but a manual request asked for this run."""
        return any(t.kind != "manual" for t in self.triggers)


@dataclass(frozen=True)
class Failure:
    """A pipeline whose last run failed: why, how often in a row, and its next retry.

    ``failed_runs`` counts failed runs since the last success or the last new spec;
    ``next_retry_at`` is ``None`` when no retry is scheduled (already issued, the run was
    only requested by hand, or the retries are used up).
    """

    pipeline: str
    run_id: str
    reason: str
    failed_at: datetime
    failed_runs: int
    next_retry_at: datetime | None


def run_id_for(pipeline: str, first_event_id: str) -> str:
    """Deterministic run id from the event that opened the run."""
    return f"run-{uuid.uuid5(RUN_NAMESPACE, f'{pipeline}|{first_event_id}')}"
