"""The monitor's behaviour, one method per consumed event; Kafka wiring is in ``handlers``,
a full window's drift decision in ``drift_alerts``, a full live window's ``QualityMeasured``
in ``quality_reports``.

State (pipelines, windows, joins) lives in memory and is touched only on the event loop;
drift is computed in a worker thread on copies of it. Handlers mark an event as handled
only once its effect is applied, so a redelivered event is skipped, not applied twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from continuum.contracts import (
    Event,
    Feedback,
    ModelPromoted,
    PipelineChanged,
    PredictionLogged,
    PredictionsLogged,
    RolloutChanged,
    utc_now,
)
from continuum.monitor.cooldown import CooldownStore
from continuum.monitor.directory import PipelineDirectory
from continuum.monitor.drift import DriftDetector
from continuum.monitor.drift_alerts import DriftAlerts
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.pending import Publish
from continuum.monitor.pipelines import PipelineState
from continuum.monitor.quality import LoggedPrediction, PredictionJoin
from continuum.monitor.quality_gauges import LiveQualityGauges, QualityTracker
from continuum.monitor.quality_reports import QualityReports
from continuum.monitor.registry_view import RegistryReader
from continuum.monitor.rollout_watch import RolloutWatch
from continuum.monitor.seen import SeenEvents
from continuum.monitor.windows import WindowRow
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)


class Monitor:
    """Windows, drift decisions and quality for every pipeline."""

    def __init__(
        self,
        *,
        registry: RegistryReader,
        store: ObjectStore,
        publish: Publish,
        metrics: MonitorMetrics,
        cooldowns: CooldownStore,
        seen_capacity: int = 100_000,
        join_capacity: int = 100_000,
        quality_window_rows: int = 1000,
        registry_retry_seconds: float = 1.0,
        detector: DriftDetector | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.publish = publish
        self.metrics = metrics
        self.drift_alerts = DriftAlerts(
            detector=detector or DriftDetector(),
            store=store,
            metrics=metrics,
            cooldowns=cooldowns,
            clock=clock,
        )
        self.directory = PipelineDirectory(
            registry=registry,
            store=store,
            metrics=metrics,
            clock=clock,
            registry_retry_seconds=registry_retry_seconds,
        )
        self.seen = SeenEvents(seen_capacity)
        self.join = PredictionJoin(join_capacity)
        self.quality = QualityTracker(metrics, quality_window_rows)
        self.quality_reports = QualityReports(metrics, LiveQualityGauges(metrics))
        self.registry = registry
        self.rollouts = RolloutWatch(metrics, join_capacity)
        self.ready = asyncio.Event()

    @property
    def pipelines(self) -> dict[str, PipelineState]:
        """Every known pipeline's state, by name."""
        return self.directory.pipelines

    async def bootstrap(self) -> None:
        """Read every pipeline's spec and champion from the registry; handlers wait for it."""
        await self.directory.bootstrap()
        await self.rollouts.load(self.registry, list(self.pipelines))
        self.ready.set()
        logger.info("monitoring %d pipeline(s): %s", len(self.pipelines), sorted(self.pipelines))

    def _first_time(self, event: Event, topic: str) -> bool:
        if event.event_id in self.seen:
            self.metrics.duplicates.labels(topic).inc()
            return False
        return True

    # -- predictions and drift -------------------------------------------------------
    async def on_prediction_batch(self, batch: PredictionsLogged) -> None:
        """A batch of serving's predictions: the rollout's share, then each prediction.

        A shadow's predictions were never returned: they feed the rollout's comparison
        only, not the champion's join, windows or quality.
        """
        await self.ready.wait()
        self.rollouts.on_batch(batch)
        if batch.arm == "shadow":
            return
        for handled, prediction in enumerate(batch.events(), 1):
            await self.on_prediction(prediction)
            if handled % 200 == 0:
                await asyncio.sleep(0)  # a batch must not keep /metrics waiting

    async def on_prediction(self, event: PredictionLogged) -> None:
        """Join bookkeeping for every version; the champion's rows go into its window."""
        await self.ready.wait()
        state = await self.directory.get(event.pipeline)
        if state is not None:
            # A drift event Kafka refused earlier goes first (raises to be redelivered).
            await self.drift_alerts.flush(state, self.publish)
        if not self._first_time(event, "predictions"):
            return
        self.join.remember(
            event.pipeline,
            event.request_id,
            event.entity_id,
            LoggedPrediction(
                event.model_version,
                event.prediction,
                event.probabilities,
                at=event.event_time or event.occurred_at,
            ),
        )
        if state is None:
            self.metrics.predictions.labels(event.pipeline, "ignored_unknown_pipeline").inc()
            self.seen.add(event.event_id)
            return
        await self.directory.refresh_champion(state, event.model_version)
        full = None
        if state.champion is None or state.window is None:
            outcome = "ignored_no_champion"
        elif event.model_version != state.champion.version:
            outcome = "ignored_other_version"
        else:
            at = event.event_time or event.occurred_at
            full = state.window.add(WindowRow(event.features, event.prediction, at))
            outcome = "windowed"
        self.metrics.predictions.labels(event.pipeline, outcome).inc()
        self.seen.add(event.event_id)
        self.directory.export_window(state)
        if full is not None:
            await self.drift_alerts.evaluate(state, full, self.publish)

    # -- promotions and specs --------------------------------------------------------
    async def on_promotion(self, event: ModelPromoted) -> None:
        """Switch to the new champion and its reference sample; a fresh window starts."""
        await self.ready.wait()
        if not self._first_time(event, "promoted"):
            return
        await self.directory.promote(event)
        self.seen.add(event.event_id)

    async def on_pipeline_changed(self, event: PipelineChanged) -> None:
        """Follow the registry's newest spec, or forget a retired pipeline."""
        await self.ready.wait()
        if not self._first_time(event, "pipelines"):
            return
        await self.directory.follow_spec(event)
        self.seen.add(event.event_id)

    async def on_rollout(self, event: RolloutChanged) -> None:
        """Follow the registry's rollout steps (a new step starts empty)."""
        await self.ready.wait()
        if not self._first_time(event, "rollouts"):
            return
        self.rollouts.follow(event.pipeline, event)
        self.seen.add(event.event_id)

    # -- feedback --------------------------------------------------------------------
    async def on_feedback(self, event: Feedback) -> None:
        """Join a label to its logged prediction and update that version's quality.

        The champion's labelled predictions also fill its tumbling live window; a full one
        is published as ``QualityMeasured``. The feedback is marked handled before that
        publish, so when Kafka refuses it the redelivered feedback only retries the publish.
        """
        await self.ready.wait()
        known = self.pipelines.get(event.pipeline)
        if known is not None:
            await self.quality_reports.flush(known, self.publish)  # raises to be redelivered
        await self.rollouts.flush(event.pipeline, self.publish)
        if not self._first_time(event, "feedback"):
            return
        if known is not None:
            self.rollouts.on_label(event, known.spec)
        logged = self.join.pop(event.pipeline, event.request_id, event.entity_id)
        state = await self.directory.get(event.pipeline) if logged is not None else None
        full = []
        if logged is None or state is None:
            self.metrics.feedback.labels(event.pipeline, "unmatched").inc()
        else:
            self.quality.add(event.pipeline, state.spec.task, logged, event.label)
            self.metrics.feedback.labels(event.pipeline, "joined").inc()
            live = state.live
            if live is not None and logged.model_version == live.model_version:
                full = live.add(logged, event.label)
        self.seen.add(event.event_id)
        if state is not None and full:
            self.quality_reports.measure(state, full)
            await self.quality_reports.flush(state, self.publish)
        await self.rollouts.flush(event.pipeline, self.publish)

    # -- health ----------------------------------------------------------------------
    async def health(self) -> dict[str, Any]:
        """``ok`` once the registry was read at start; the pipelines and their windows."""
        pipelines = {
            name: {
                "champion": state.champion.version if state.champion else None,
                "reference_loaded": bool(state.champion and state.champion.reference is not None),
                "window_rows": len(state.window.rows) if state.window else 0,
                "window_size": state.policy.window_rows,
            }
            for name, state in sorted(self.pipelines.items())
        }
        status = "ok" if self.ready.is_set() else "starting"
        return {"status": status, "service": "monitor", "pipelines": pipelines}
