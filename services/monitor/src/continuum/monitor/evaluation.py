"""Evaluating a full window for drift and deciding whether it is worth a ``DriftDetected``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pandas as pd

from continuum.contracts import DriftDetected
from continuum.monitor.drift import DriftDetector, DriftReport
from continuum.monitor.frames import FeatureLayout
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.pipelines import Champion
from continuum.monitor.reference import read_reference
from continuum.monitor.windows import FullWindow
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """A window's drift report and the reference it was measured against."""

    report: DriftReport
    reference: pd.DataFrame
    seconds: float


def evaluate_window(
    detector: DriftDetector,
    store: ObjectStore,
    layout: FeatureLayout,
    window: FullWindow,
    champion: Champion,
) -> Evaluation:
    """Blocking (pandas + Evidently): run it with ``asyncio.to_thread``.

    Reads the champion's reference first when it has not been read yet; state is not
    touched here, the caller keeps the returned reference on the event loop.
    """
    started = time.perf_counter()
    reference = champion.reference
    if reference is None:
        reference = read_reference(store, champion.reference_sample)
    current = layout.window_frame(
        [row.features for row in window.rows], [row.prediction for row in window.rows]
    )
    report = detector.detect(layout, current, layout.reference_frame(reference))
    return Evaluation(report=report, reference=reference, seconds=time.perf_counter() - started)


def export_report(
    metrics: MonitorMetrics, pipeline: str, model_version: int, report: DriftReport
) -> None:
    """Put a window's results on the gauges."""
    metrics.drift_share.labels(pipeline, str(model_version)).set(report.drift_share)
    for column in report.columns:
        metrics.feature_drift_score.labels(pipeline, column.column).set(column.score)
        metrics.feature_drifted.labels(pipeline, column.column).set(1.0 if column.drifted else 0.0)
    if report.prediction is not None:
        metrics.prediction_drift_score.labels(pipeline).set(report.prediction.score)
    metrics.windows_evaluated.labels(pipeline).inc()


def drift_event(
    pipeline: str, champion: Champion, window: FullWindow, report: DriftReport, threshold: float
) -> DriftDetected:
    """The event announcing this window's drift, in the promotion's correlation chain."""
    return DriftDetected(
        pipeline=pipeline,
        correlation_id=champion.correlation_id,
        model_version=window.model_version,
        window_start=window.start,
        window_end=window.end,
        window_rows=len(window.rows),
        drift_share=report.drift_share,
        threshold=threshold,
        columns=list(report.columns),
        prediction_drift=report.prediction,
    )
