"""The monitor's behaviour, one method per consumed event; Kafka wiring is in ``handlers``.

State (pipelines, windows, joins) lives in memory and is touched only on the event loop;
drift is computed in a worker thread on copies of it. Handlers mark an event as handled
only once its effect is applied, so a redelivered event is skipped, not applied twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from continuum.contracts import (
    DriftDetected,
    Event,
    Feedback,
    ModelPromoted,
    PipelineChanged,
    PredictionLogged,
    PredictionsLogged,
    QualityMeasured,
    RolloutChanged,
    utc_now,
)
from continuum.monitor.cooldown import CooldownStore, LastFired
from continuum.monitor.directory import PipelineDirectory
from continuum.monitor.drift import DriftDetector
from continuum.monitor.evaluation import drift_event, evaluate_window, export_report
from continuum.monitor.live_quality import measure
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.pipelines import PipelineState
from continuum.monitor.quality import LoggedPrediction, PredictionJoin
from continuum.monitor.quality_gauges import LiveQualityGauges, QualityTracker
from continuum.monitor.registry_view import RegistryReader
from continuum.monitor.rollout_watch import RolloutWatch
from continuum.monitor.seen import SeenEvents
from continuum.monitor.windows import FullWindow, WindowRow
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]


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
        self.store = store
        self.publish = publish
        self.metrics = metrics
        self.cooldowns = cooldowns
        self.detector = detector or DriftDetector()
        self.clock = clock
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
        self.live_gauges = LiveQualityGauges(metrics)
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
            await self._flush_drift(state)
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
            await self._evaluate(state, full)

    async def _evaluate(self, state: PipelineState, window: FullWindow) -> None:
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
            await self._flush_drift(state)

    async def _flush_drift(self, state: PipelineState) -> None:
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

        await state.pending_drift.flush(self.publish, sent)

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
            await self._flush_quality(known)  # raises to be redelivered
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
            self._measure(state, full)
            await self._flush_quality(state)
        await self.rollouts.flush(event.pipeline, self.publish)

    def _measure(self, state: PipelineState, full: list[tuple[LoggedPrediction, Any]]) -> None:
        champion = state.champion
        assert champion is not None
        version = full[0][0].model_version
        metric = state.spec.promotion.metric
        measured = measure(state.spec.task, metric, full)
        if measured is None:
            logger.info("%s v%d: %s undefined on a live window", state.name, version, metric)
            self.metrics.quality_windows.labels(state.name, "undefined").inc()
            return
        self.live_gauges.export(state.name, version, measured)
        drift = (
            state.latest_drift if state.latest_drift and state.latest_drift[0] == version else None
        )
        state.pending_quality.add(
            QualityMeasured(
                pipeline=state.name,
                correlation_id=champion.correlation_id,
                model_version=version,
                window_start=measured.window_start,
                window_end=measured.window_end,
                rows=measured.rows,
                metric=measured.metric,
                value=measured.value,
                std_error=measured.std_error,
                metrics=measured.metrics,
                drift_share=drift[1] if drift else None,
                drifted=drift[2] if drift else False,
            )
        )

    async def _flush_quality(self, state: PipelineState) -> None:
        def sent(event: QualityMeasured) -> None:
            self.metrics.quality_windows.labels(state.name, "measured").inc()
            logger.info(
                "%s v%d: live %s %.4f ± %.4f on %d rows",
                state.name,
                event.model_version,
                event.metric,
                event.value,
                event.std_error,
                event.rows,
            )

        await state.pending_quality.flush(self.publish, sent)

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
