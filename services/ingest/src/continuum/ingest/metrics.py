"""Ingest's Prometheus metrics, registered in the app's own ``CollectorRegistry``."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from continuum.contracts import RecordProblem

SERVICE = "ingest"


class IngestMetrics:
    """Every metric ingest exports (one instance per app).

    Consumer lag is not here: ``continuum.kafka.watch_consumer_lag`` reports it for the
    source consumer and the FastStream subscriber alike (see ``app.py``).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "continuum_ingest_records_total",
            "Source records checked, by outcome (accepted or rejected).",
            ["pipeline", "outcome"],
            registry=registry,
        )
        self.rejections = Counter(
            "continuum_ingest_rejections_total",
            "Reasons records were refused (one record may count several reasons).",
            ["pipeline", "reason"],
            registry=registry,
        )
        self.batches = Counter(
            "continuum_ingest_batches_total",
            "Parquet batches written and announced.",
            ["pipeline"],
            registry=registry,
        )
        self.batch_rows = Histogram(
            "continuum_ingest_batch_rows",
            "Rows per written batch.",
            ["pipeline"],
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000),
            registry=registry,
        )
        self.flush_seconds = Histogram(
            "continuum_ingest_flush_seconds",
            "Time to encode, store, record, announce and commit one batch.",
            ["pipeline"],
            registry=registry,
        )
        self.buffered_rows = Gauge(
            "continuum_ingest_buffered_rows",
            "Valid rows waiting in memory for the next batch.",
            ["pipeline"],
            registry=registry,
        )
        self.republished = Counter(
            "continuum_ingest_republished_batches_total",
            "Batch events published again from a manifest after a restart or reassignment.",
            ["pipeline"],
            registry=registry,
        )
        self.recoveries = Counter(
            "continuum_ingest_recoveries_total",
            "Times the consumer dropped its buffers and rewound to the committed offsets.",
            registry=registry,
        )

    def count_checked(
        self, pipeline: str, accepted: int, rejected: Sequence[Sequence[RecordProblem]]
    ) -> None:
        """Count a checked run: accepted records, rejected ones and each reason given."""
        self.records.labels(pipeline, "accepted").inc(accepted)
        if rejected:
            self.records.labels(pipeline, "rejected").inc(len(rejected))
            for problems in rejected:
                for problem in problems:
                    self.rejections.labels(pipeline, problem.code).inc()
