"""The trainer's records: triggers, batches and runs, and how a run gets its id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RUN_NAMESPACE = uuid.UUID("5f0c6a8e-3b1d-4c2a-9f7e-6d4b2a1c0e93")
"""Namespace of every id the trainer derives (run ids, ModelTrained event ids)."""


@dataclass(frozen=True)
class TriggerRef:
    """One reason for a run: which event, of which kind, on which chain."""

    event_id: str
    kind: str
    correlation_id: str

    def as_json(self) -> dict[str, str]:
        return {"event_id": self.event_id, "kind": self.kind, "correlation_id": self.correlation_id}


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


@dataclass(frozen=True)
class Run:
    """A training run and the triggers it covers."""

    run_id: str
    pipeline: str
    status: str
    triggers: list[TriggerRef]
    job: dict[str, Any] | None
    created_at: datetime


def run_id_for(pipeline: str, first_event_id: str) -> str:
    """Deterministic run id from the event that opened the run."""
    return f"run-{uuid.uuid5(RUN_NAMESPACE, f'{pipeline}|{first_event_id}')}"
