"""Serving's Prometheus metrics, all in the app's own ``CollectorRegistry``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

Arm = Literal["champion", "candidate", "shadow"]
"""Which side of a rollout a model answers on (``champion`` outside rollouts)."""

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
        # Records, requests and errors per arm: counted on every request, so plain ints
        # (see ArmCounters), exported as counters when scraped.
        self.arms = ArmCounters()
        registry.register(self.arms)
        self.inference = Histogram(
            "continuum_serving_inference_seconds",
            "Model time per pipeline call (one micro-batch of one arm): CPU time of the "
            "thread that ran it, so arms running at once are not charged each other's.",
            ["pipeline", "model_version", "arm"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.shadow_dropped = Counter(
            "continuum_serving_shadow_dropped_total",
            "Records not copied to the shadow model because its queue was full.",
            ["pipeline"],
            registry=registry,
        )
        self.rollout_share = Gauge(
            "continuum_serving_rollout_traffic_share",
            "Share of requests the rollout's candidate answers (0 outside a canary).",
            ["pipeline"],
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


class PipelineCounter:
    """A counter labelled by pipeline, each pipeline's child resolved once (``labels()``
    costs a lookup and a lock on every call)."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self._children: dict[str, Counter] = {}

    def inc(self, pipeline: str, count: float) -> None:
        """Add ``count`` to ``pipeline``'s series."""
        child = self._children.get(pipeline)
        if child is None:
            child = self._children[pipeline] = self.counter.labels(pipeline)
        child.inc(count)


class ArmCounts:
    """One model's counts in one arm: records predicted, requests answered, records failed."""

    __slots__ = ("errors", "records", "requests")

    def __init__(self) -> None:
        self.records = 0
        self.requests = 0
        self.errors = 0


_ARM_LABELS = ["pipeline", "model_version", "arm"]


class ArmCounters(Collector):
    """The per-arm counters, kept as plain ints and exported when Prometheus scrapes.

    A prometheus ``Counter.inc`` takes a lock and several calls; these are bumped on every
    request (the ``direct`` path included, at ~7,700 requests/s) and only ever from the
    event loop's thread, so an int attribute suffices. Like labelled children, a series
    stays once created (a counter never goes back).
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, Arm], ArmCounts] = {}

    def of(self, pipeline: str, version: int, arm: Arm) -> ArmCounts:
        """The counts of ``pipeline`` ``version`` answering as ``arm`` (one per labels)."""
        key = (pipeline, str(version), arm)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = ArmCounts()
        return counts

    def describe(self) -> list[Metric]:
        """The families (without samples), so the registry can check names at once."""
        return list(self._families(with_samples=False))

    def collect(self) -> Iterator[Metric]:
        """Every arm's counts, as three counter families."""
        return self._families(with_samples=True)

    def _families(self, *, with_samples: bool) -> Iterator[Metric]:
        families = (
            (
                "continuum_serving_predictions",
                "Records predicted, by the version and rollout arm that predicted them "
                "(shadow predictions are never returned).",
                "records",
            ),
            (
                "continuum_serving_arm_requests",
                "Requests each model answered records of, by rollout arm (a canary request "
                "split between both arms counts in each; shadow: requests copied to it).",
                "requests",
            ),
            (
                "continuum_serving_arm_errors",
                "Records a candidate or shadow model failed to predict (a canary's were "
                "answered by the champion instead).",
                "errors",
            ),
        )
        for name, documentation, field in families:
            family = CounterMetricFamily(name, documentation, labels=_ARM_LABELS)
            if with_samples:
                for labels, counts in list(self._counts.items()):
                    family.add_metric(list(labels), getattr(counts, field))
            yield family


@dataclass(frozen=True, slots=True)
class ArmMeter:
    """One model's metrics in one arm, resolved once when the model is installed.

    A label lookup costs a lock and a dict per call; the request path only touches these:
    ``counts`` (plain ints) and the bound ``inference`` histogram child.
    """

    arm: Arm
    counts: ArmCounts
    inference: Histogram

    @classmethod
    def bind(cls, metrics: ServingMetrics, pipeline: str, version: int, arm: Arm) -> ArmMeter:
        """The metrics of ``pipeline`` ``version`` answering as ``arm``."""
        return cls(
            arm=arm,
            counts=metrics.arms.of(pipeline, version, arm),
            inference=metrics.inference.labels(pipeline, str(version), arm),
        )
