"""Quality windows per model version and the gauges that show them."""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Any

from continuum.contracts import Task
from continuum.monitor.live_quality import Measurement
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.quality import LoggedPrediction, QualityWindow

QUALITY_METRICS = ("accuracy", "roc_auc", "mae", "rmse")

VERSIONS_KEPT = 5
"""Model versions per pipeline whose quality is still exported (older ones are dropped)."""


class QualityTracker:
    """Rolling quality of each (pipeline, model version), exported as gauges."""

    def __init__(self, metrics: MonitorMetrics, window_rows: int) -> None:
        self.metrics = metrics
        self.window_rows = window_rows
        self.windows: dict[str, OrderedDict[int, QualityWindow]] = {}

    def window(self, pipeline: str, version: int) -> QualityWindow | None:
        """The quality window of a version, if it has one."""
        return self.windows.get(pipeline, OrderedDict()).get(version)

    def add(
        self, pipeline: str, task: Task, logged: LoggedPrediction, label: Any
    ) -> dict[str, float]:
        """One more labelled prediction; returns (and exports) the version's metrics."""
        versions = self.windows.setdefault(pipeline, OrderedDict())
        window = versions.get(logged.model_version)
        if window is None or window.task != task:
            window = versions[logged.model_version] = QualityWindow(task, self.window_rows)
        versions.move_to_end(logged.model_version)
        while len(versions) > VERSIONS_KEPT:
            old_version, _ = versions.popitem(last=False)
            self._forget(pipeline, old_version)
        window.add(logged, label)
        values = window.metrics()
        version = str(logged.model_version)
        for name, value in values.items():
            self.metrics.model_quality.labels(pipeline, version, name).set(value)
        self.metrics.quality_window_rows.labels(pipeline, version).set(len(window.pairs))
        return values

    def _forget(self, pipeline: str, version: int) -> None:
        # Bounded label sets: a retired version's series disappear from /metrics.
        for name in QUALITY_METRICS:
            with contextlib.suppress(KeyError):
                self.metrics.model_quality.remove(pipeline, str(version), name)
        with contextlib.suppress(KeyError):
            self.metrics.quality_window_rows.remove(pipeline, str(version))


class LiveQualityGauges:
    """The champion's live metrics (one labelled window) as gauges, by version: a new
    champion's series replace the old one's, so dashboards never show a stale version."""

    def __init__(self, metrics: MonitorMetrics) -> None:
        self.metrics = metrics
        self._exported: dict[str, tuple[int, tuple[str, ...]]] = {}

    def export(self, pipeline: str, version: int, measured: Measurement) -> None:
        """Show ``measured`` for ``version`` of ``pipeline`` (dropping the previous series)."""
        previous = self._exported.get(pipeline)
        if previous is not None and previous != (version, tuple(measured.metrics)):
            old_version, names = previous
            for name in names:
                with contextlib.suppress(KeyError):
                    self.metrics.live_metric.remove(pipeline, str(old_version), name)
                with contextlib.suppress(KeyError):
                    self.metrics.live_metric_std_error.remove(pipeline, str(old_version), name)
        self._exported[pipeline] = (version, tuple(measured.metrics))
        for name, value in measured.metrics.items():
            self.metrics.live_metric.labels(pipeline, str(version), name).set(value)
        self.metrics.live_metric_std_error.labels(pipeline, str(version), measured.metric).set(
            measured.std_error
        )
