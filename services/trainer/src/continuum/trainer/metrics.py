"""The trainer's Prometheus metrics (its own registry, made in ``create_app``)."""

from __future__ import annotations

from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from continuum.contracts import Trigger

_OUTCOMES = ("succeeded", "failed")


class TrainerMetrics:
    """Counters, histogram and gauges, all labelled by pipeline."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.trainings = Counter(
            "continuum_trainer_trainings_total",
            "Training runs finished, by the trigger that opened them and outcome.",
            ["pipeline", "trigger", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "continuum_trainer_training_duration_seconds",
            "Wall time of a training run in the worker.",
            ["pipeline"],
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=registry,
        )
        self.pending_triggers = Gauge(
            "continuum_trainer_pending_triggers",
            "Triggers waiting in the queued (not yet started) run.",
            ["pipeline"],
            registry=registry,
        )
        self.new_labelled_rows = Gauge(
            "continuum_trainer_new_labelled_rows",
            "Labelled rows that arrived since the last run started.",
            ["pipeline"],
            registry=registry,
        )
        self.last_run_failed = Gauge(
            "continuum_trainer_last_run_failed",
            "1 while the pipeline's last finished run failed (until a run succeeds).",
            ["pipeline"],
            registry=registry,
        )

        self.runs_skipped = Counter(
            "continuum_trainer_runs_skipped_total",
            "Automatic runs skipped before training (same_data: the last successful run's).",
            ["pipeline", "reason"],
            registry=registry,
        )
        self.policy_decisions = Counter(
            "continuum_trainer_policy_decisions_total",
            "Cost-aware policy decisions on QualityMeasured windows (retrain or wait).",
            ["pipeline", "decision"],
            registry=registry,
        )
        self.policy_accumulated_loss = Gauge(
            "continuum_trainer_policy_accumulated_loss",
            "The cost-aware policy's accumulated excess loss since the champion's deployment.",
            ["pipeline"],
            registry=registry,
        )

    def touch(self, pipeline: str) -> None:
        """Create the pipeline's training counters at zero, so the first failure shows up
        in ``increase()`` (a series that appears at 1 has no increase to report)."""
        for trigger in get_args(Trigger):
            for outcome in _OUTCOMES:
                self.trainings.labels(pipeline, trigger, outcome)
