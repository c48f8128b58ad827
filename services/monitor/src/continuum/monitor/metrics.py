"""The monitor's Prometheus metrics, all in the service's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class MonitorMetrics:
    """Gauges for drift and quality, counters for windows, events and joins."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, documentation: str, labels: list[str]) -> Gauge:
            """A gauge in this registry; the gauges below differ only by name, help and labels."""
            return Gauge(name, documentation, labels, registry=registry)

        self.drift_share = gauge(
            "continuum_monitor_drift_share",
            "Share of feature columns that drifted in the last evaluated window.",
            ["pipeline", "model_version"],
        )
        self.feature_drift_score = gauge(
            "continuum_monitor_feature_drift_score",
            "Drift score of a feature in the last window (the method is Evidently's choice).",
            ["pipeline", "feature"],
        )
        self.feature_drifted = gauge(
            "continuum_monitor_feature_drifted",
            "1 when the feature drifted in the last evaluated window, else 0.",
            ["pipeline", "feature"],
        )
        self.prediction_drift_score = gauge(
            "continuum_monitor_prediction_drift_score",
            "Drift score of the model's predictions in the last evaluated window.",
            ["pipeline"],
        )
        self.window_fill_ratio = gauge(
            "continuum_monitor_window_fill_ratio",
            "How full the current drift window of the champion is (0..1).",
            ["pipeline"],
        )
        self.windows_evaluated = Counter(
            "continuum_monitor_windows_evaluated_total",
            "Full windows evaluated for drift.",
            ["pipeline"],
            registry=registry,
        )
        self.drift_events = Counter(
            "continuum_monitor_drift_events_total",
            "DriftDetected events published.",
            ["pipeline"],
            registry=registry,
        )
        self.drift_suppressed = Counter(
            "continuum_monitor_drift_suppressed_total",
            "Windows over the drift threshold that fired nothing (cooldown, stale champion).",
            ["pipeline", "reason"],
            registry=registry,
        )
        self.evaluation_errors = Counter(
            "continuum_monitor_evaluation_errors_total",
            "Windows dropped because their evaluation or their reference failed.",
            ["pipeline"],
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "continuum_monitor_evaluation_seconds",
            "Time to evaluate one window for drift (in the worker thread).",
            ["pipeline"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.predictions = Counter(
            "continuum_monitor_predictions_total",
            "Logged predictions consumed, by what became of them.",
            ["pipeline", "outcome"],
            registry=registry,
        )
        self.feedback = Counter(
            "continuum_monitor_feedback_total",
            "Feedback labels consumed, by whether they joined a logged prediction.",
            ["pipeline", "outcome"],
            registry=registry,
        )
        self.model_quality = gauge(
            "continuum_monitor_model_quality",
            "Quality of a model version over its rolling window of labelled predictions.",
            ["pipeline", "model_version", "metric"],
        )
        self.quality_window_rows = gauge(
            "continuum_monitor_quality_window_rows",
            "Labelled predictions in a model version's quality window.",
            ["pipeline", "model_version"],
        )
        self.live_metric = gauge(
            "continuum_monitor_live_metric",
            "The champion's metrics on its last full window of labelled predictions.",
            ["pipeline", "model_version", "metric"],
        )
        self.live_metric_std_error = gauge(
            "continuum_monitor_live_metric_std_error",
            "Standard error of the champion's promotion metric on its last full window.",
            ["pipeline", "model_version", "metric"],
        )
        self.quality_windows = Counter(
            "continuum_monitor_quality_windows_total",
            "Full windows of the champion's labelled predictions, by outcome"
            " (measured: QualityMeasured published; undefined: the metric could not be computed).",
            ["pipeline", "outcome"],
            registry=registry,
        )
        self.promotions_ignored = Counter(
            "continuum_monitor_promotions_ignored_total",
            "ModelPromoted events not acted on because the registry does not name that "
            "version the champion (a forged event, or one overtaken by a newer promotion).",
            ["pipeline"],
            registry=registry,
        )
        self.rollout_metric = gauge(
            "continuum_monitor_rollout_metric",
            "The promotion metric of each arm of the live rollout step, on its labelled"
            " predictions in the step (arm: champion or candidate).",
            ["pipeline", "model_version", "arm"],
        )
        self.rollout_labelled = gauge(
            "continuum_monitor_rollout_labelled_predictions",
            "Labelled predictions of each arm in the live rollout step.",
            ["pipeline", "model_version", "arm"],
        )
        self.rollout_traffic_share = gauge(
            "continuum_monitor_rollout_traffic_share",
            "Share of requests the live rollout's candidate answers (0: none, or a shadow).",
            ["pipeline"],
        )
        self.rollout_evaluations = Counter(
            "continuum_monitor_rollout_evaluations_total",
            "RolloutEvaluated events published.",
            ["pipeline"],
            registry=registry,
        )
        self.duplicates = Counter(
            "continuum_monitor_duplicate_events_total",
            "Events skipped because their event_id was already handled.",
            ["topic"],
            registry=registry,
        )
