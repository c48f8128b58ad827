"""What the monitor knows about each pipeline: its spec, its champion, its drift window."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import pandas as pd

from continuum.contracts import DriftDetected, PipelineSpec, QualityMeasured, StoredObject
from continuum.contracts.loop_policies import MonitoringPolicy
from continuum.monitor.frames import FeatureLayout
from continuum.monitor.live_quality import LiveWindow
from continuum.monitor.pending import PendingEvents
from continuum.monitor.windows import PredictionWindow


@dataclass
class Champion:
    """The model version whose predictions are watched, and its reference sample."""

    version: int
    reference_sample: StoredObject
    correlation_id: UUID
    since: datetime
    """When it became known as champion; promotions older than this are stale replays."""
    promotion_event_id: UUID | None = None
    reference: pd.DataFrame | None = None
    """The reference sample as read from storage (``None`` until read successfully)."""


@dataclass
class PipelineState:
    """One pipeline as the monitor sees it."""

    name: str
    spec: PipelineSpec
    spec_version: int
    champion: Champion | None = None
    window: PredictionWindow | None = None
    pending_drift: PendingEvents[DriftDetected] = field(default_factory=PendingEvents)
    """The drift event decided on but not yet accepted by Kafka (at most one: a window that
    drifts while one is pending is suppressed); retried before the next prediction."""
    live: LiveWindow | None = None
    """The champion's tumbling window of labelled predictions."""
    pending_quality: PendingEvents[QualityMeasured] = field(default_factory=PendingEvents)
    """Quality measurements not yet accepted by Kafka (retried before the next feedback)."""
    latest_drift: tuple[int, float, bool] | None = None
    """The last drift report: (model version, drift share, crossed the threshold)."""
    layout: FeatureLayout = field(init=False)

    def __post_init__(self) -> None:
        self.layout = FeatureLayout.of(self.spec)

    @property
    def policy(self) -> MonitoringPolicy:
        """The spec's monitoring policy."""
        return self.spec.monitoring

    def use_spec(self, spec: PipelineSpec, spec_version: int) -> None:
        """Follow a new spec version; a changed feature layout starts a fresh window."""
        layout = FeatureLayout.of(spec)
        if layout != self.layout and self.champion is not None:
            self.window = PredictionWindow(self.champion.version, spec.monitoring.window_rows)
        elif self.window is not None:
            # A smaller window fills (and is evaluated) on the next prediction.
            self.window.size = spec.monitoring.window_rows
        if self.live is not None:
            self.live.size = spec.monitoring.window_rows
        self.spec, self.spec_version, self.layout = spec, spec_version, layout

    def use_champion(self, champion: Champion) -> None:
        """Watch a new champion: its predictions start a fresh window."""
        self.champion = champion
        self.window = PredictionWindow(champion.version, self.policy.window_rows)
        self.live = LiveWindow(champion.version, self.policy.window_rows)
