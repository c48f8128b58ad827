"""From a champion's full live window of labelled predictions to a ``QualityMeasured``:
the measurement, its gauges, and the publish (kept pending while Kafka refuses it)."""

from __future__ import annotations

import logging
from typing import Any

from continuum.contracts import QualityMeasured
from continuum.monitor.live_quality import measure
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.pending import Publish
from continuum.monitor.pipelines import PipelineState
from continuum.monitor.quality import LoggedPrediction
from continuum.monitor.quality_gauges import LiveQualityGauges

logger = logging.getLogger(__name__)


class QualityReports:
    """Measures the champion's full live windows and publishes them."""

    def __init__(self, metrics: MonitorMetrics, live_gauges: LiveQualityGauges) -> None:
        self.metrics = metrics
        self.live_gauges = live_gauges

    def measure(self, state: PipelineState, full: list[tuple[LoggedPrediction, Any]]) -> None:
        """Measure a full live window and queue its ``QualityMeasured`` (see :meth:`flush`)."""
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

    async def flush(self, state: PipelineState, publish: Publish) -> None:
        """Publish the pipeline's queued ``QualityMeasured`` (raises while Kafka refuses)."""

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

        await state.pending_quality.flush(publish, sent)
