"""From a champion's full window to a ``DriftDetected``: the evaluation (in a worker thread),
its gauges, and the decision to publish (threshold, cooldown, one pending at a time)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from continuum.contracts import DriftDetected
from continuum.monitor.cooldown import CooldownStore, LastFired
from continuum.monitor.drift import DriftDetector
from continuum.monitor.evaluation import drift_event, evaluate_window, export_report
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.pending import Publish
from continuum.monitor.pipelines import PipelineState
from continuum.monitor.windows import FullWindow
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)


class DriftAlerts:
    """Evaluates full windows for drift and publishes the drift worth an event."""

    def __init__(
        self,
        *,
        detector: DriftDetector,
        store: ObjectStore,
        metrics: MonitorMetrics,
        cooldowns: CooldownStore,
        clock: Callable[[], datetime],
    ) -> None:
        self.detector = detector
        self.store = store
        self.metrics = metrics
        self.cooldowns = cooldowns
        self.clock = clock

    async def evaluate(self, state: PipelineState, window: FullWindow, publish: Publish) -> None:
        """Measure ``window`` against the champion's reference; publish a drift over the
        threshold unless it is suppressed (raises to be redelivered when Kafka refuses)."""
        champion = state.champion
        assert champion is not None
        try:
            result = await asyncio.to_thread(
                evaluate_window, self.detector, self.store, state.layout, window, champion
            )
        except Exception:
            # A broken reference or an Evidently failure loses this window, not the service.
            logger.exception("drift evaluation of %s v%d failed", state.name, window.model_version)
            self.metrics.evaluation_errors.labels(state.name).inc()
            return
        champion.reference = result.reference
        self.metrics.evaluation_seconds.labels(state.name).observe(result.seconds)
        report = result.report
        export_report(self.metrics, state.name, window.model_version, report)
        logger.info(
            "%s v%d: drift share %.2f (drifted: %s) in %.3f s",
            state.name,
            window.model_version,
            report.drift_share,
            ", ".join(report.drifted_columns) or "none",
            result.seconds,
        )
        threshold = state.policy.drift_share_threshold
        state.latest_drift = (
            window.model_version,
            report.drift_share,
            report.drift_share >= threshold,
        )
        if report.drift_share < threshold:
            return
        if state.champion is not champion:
            # Promoted while this window was evaluated: the old model's drift is moot.
            self.metrics.drift_suppressed.labels(state.name, "champion_changed").inc()
        elif state.pending_drift:
            self.metrics.drift_suppressed.labels(state.name, "pending").inc()
        elif not self.cooldowns.allows(state.name, self.clock(), state.policy.cooldown_seconds):
            self.metrics.drift_suppressed.labels(state.name, "cooldown").inc()
        else:
            state.pending_drift.add(drift_event(state.name, champion, window, report, threshold))
            await self.flush(state, publish)

    async def flush(self, state: PipelineState, publish: Publish) -> None:
        """Publish the pipeline's pending drift event; an accepted one starts the cooldown."""

        def sent(event: DriftDetected) -> None:
            fired = LastFired(
                at=self.clock(), model_version=event.model_version, event_id=str(event.event_id)
            )
            # Only an accepted event starts the cooldown: a refused one is still to come.
            self.cooldowns.record(state.name, fired)
            self.metrics.drift_events.labels(state.name).inc()
            logger.warning(
                "drift on %s v%d: share %.2f >= %.2f",
                state.name,
                event.model_version,
                event.drift_share,
                event.threshold,
            )

        await state.pending_drift.flush(publish, sent)
