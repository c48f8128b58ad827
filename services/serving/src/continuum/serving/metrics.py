"""Serving's Prometheus metrics, all in the app's own ``CollectorRegistry``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

UNKNOWN_PIPELINE = "<unknown>"
"""The ``pipeline`` label of requests for pipelines that do not exist (bounded cardinality)."""

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0, 2.5, 5.0,
)  # fmt: skip
_SWAP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServingMetrics:
    """Every metric serving exports; one instance per app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "continuum_serving_requests_total",
            "Prediction requests, by pipeline and HTTP status.",
            ["pipeline", "status"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "continuum_serving_request_duration_seconds",
            "Prediction request handling time (body parsing to response), by model version.",
            ["pipeline", "model_version"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.records = Counter(
            "continuum_serving_predictions_total",
            "Records predicted.",
            ["pipeline", "model_version"],
            registry=registry,
        )
        self.model_version = Gauge(
            "continuum_serving_model_version",
            "The champion version this replica answers with (absent before the first model).",
            ["pipeline"],
            registry=registry,
        )
        self.model_swaps = Counter(
            "continuum_serving_model_swaps_total",
            "Times a new model replaced (or became) the serving one.",
            ["pipeline"],
            registry=registry,
        )
        self.model_swap_duration = Histogram(
            "continuum_serving_model_swap_duration_seconds",
            "Loading, verifying and warming a model before it is swapped in.",
            ["pipeline"],
            buckets=_SWAP_BUCKETS,
            registry=registry,
        )
        self.model_load_errors = Counter(
            "continuum_serving_model_load_errors_total",
            "Models that could not be loaded (the previous model keeps serving).",
            ["pipeline", "reason"],
            registry=registry,
        )
        self.logs_dropped = Counter(
            "continuum_serving_prediction_logs_dropped_total",
            "Prediction events dropped because the log queue was full.",
            ["pipeline"],
            registry=registry,
        )
        self.logs_published = Counter(
            "continuum_serving_prediction_logs_published_total",
            "Prediction events published to continuum.predictions.",
            registry=registry,
        )
        self.logs_failed = Counter(
            "continuum_serving_prediction_logs_failed_total",
            "Prediction events lost because Kafka refused a batch.",
            registry=registry,
        )
        self.log_queue_depth = Gauge(
            "continuum_serving_prediction_log_queue_depth",
            "Prediction events waiting to be published.",
            registry=registry,
        )
