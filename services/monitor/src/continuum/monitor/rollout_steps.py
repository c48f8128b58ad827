"""One rollout step as the monitor sees it: each arm's labelled predictions and counts."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from continuum.monitor.quality import LoggedPrediction

Arm = Literal["champion", "candidate"]
ARMS: tuple[Arm, ...] = ("champion", "candidate")


@dataclass
class ArmFigures:
    """One arm in one step: its labelled predictions and serving's counts."""

    pairs: list[tuple[LoggedPrediction, Any]] = field(default_factory=list)
    records: int = 0
    requests: int = 0
    errors: int = 0
    inference_seconds: float = 0.0

    def error_rate(self) -> float:
        """Failures over the records routed to this arm (each failure answered elsewhere)."""
        routed = self.records + self.errors
        return self.errors / routed if routed else 0.0

    def latency_ms(self) -> float:
        """Mean model time per request this arm answered records of, in milliseconds (0
        before any).

        Per request, not per record: a pipeline call costs about the same for 1 row as for
        100, and a canary's candidate gets only its share of each request's records, so per
        record the same model looked 1/share times slower (a 20% canary of an identical
        model measured 7x the champion's time on the real stack and was rolled back).
        """
        return 1000 * self.inference_seconds / self.requests if self.requests else 0.0


@dataclass
class StepWatch:
    """The live step of one pipeline's rollout."""

    rollout_id: str
    champion_version: int
    candidate_version: int
    step: int
    traffic_share: float
    started_at: datetime
    correlation_id: UUID | None = None
    arms: dict[Arm, ArmFigures] = field(default_factory=lambda: {a: ArmFigures() for a in ARMS})
    joins: OrderedDict[tuple[str, str], list[tuple[Arm, LoggedPrediction]]] = field(
        default_factory=OrderedDict
    )
    batches: OrderedDict[UUID, None] = field(default_factory=OrderedDict)
    next_at: int = 0
    """The smaller arm's labelled count at which the next evaluation is due."""
