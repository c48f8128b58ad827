"""The registry's Prometheus metrics, in the app's own ``CollectorRegistry``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge

from continuum.registry.gate import GateCode

_PROMOTING = frozenset({"no_champion", "improved"})
"""The gate codes that promote (every other code rejects)."""


@dataclass(frozen=True)
class RegistryMetrics:
    """Counters and gauges the registry updates."""

    versions_registered: Counter
    gate_decisions: Counter
    champion_version: Gauge
    outbox_pending: Gauge
    claim_mismatches: Counter
    rollout_moves: Counter
    rollout_traffic_share: Gauge
    rollout_evaluations: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> RegistryMetrics:
        """Register every metric in ``registry``."""
        return cls(
            versions_registered=Counter(
                "continuum_registry_versions_registered_total",
                "Model versions stored, by pipeline.",
                ["pipeline"],
                registry=registry,
            ),
            gate_decisions=Counter(
                "continuum_registry_gate_decisions_total",
                "Promotion gate decisions, by pipeline, decision and short reason code.",
                ["pipeline", "decision", "reason"],
                registry=registry,
            ),
            champion_version=Gauge(
                "continuum_registry_champion_version",
                "The current champion version of each pipeline.",
                ["pipeline"],
                registry=registry,
            ),
            outbox_pending=Gauge(
                "continuum_registry_outbox_pending_events",
                "Events stored but not yet confirmed published to Kafka.",
                registry=registry,
            ),
            claim_mismatches=Counter(
                "continuum_registry_metric_claim_mismatches_total",
                "Trained runs whose claimed promotion metric (candidate's or champion's) did "
                "not match what the registry measured on the same holdout, by pipeline.",
                ["pipeline"],
                registry=registry,
            ),
            rollout_moves=Counter(
                "continuum_registry_rollout_moves_total",
                "Rollout decisions, by pipeline and move (started, advanced, completed,"
                " rolled_back).",
                ["pipeline", "move"],
                registry=registry,
            ),
            rollout_traffic_share=Gauge(
                "continuum_registry_rollout_traffic_share",
                "Share of requests the live rollout's candidate answers (0 without one;"
                " shadow: 0, it answers none).",
                ["pipeline"],
                registry=registry,
            ),
            rollout_evaluations=Counter(
                "continuum_registry_rollout_evaluations_total",
                "RolloutEvaluated events consumed, by outcome (judged, stale: for a rollout"
                " or step no longer live, inconclusive: too few rows or another metric).",
                ["pipeline", "outcome"],
                registry=registry,
            ),
        )

    def touch(self, pipeline: str) -> None:
        """Create the pipeline's counters at zero, so ``increase()`` sees the first decision
        of each kind (a series that appears at 1 has no increase to report)."""
        self.versions_registered.labels(pipeline)
        self.claim_mismatches.labels(pipeline)
        self.rollout_traffic_share.labels(pipeline)  # 0 until a rollout: the panel has data
        for move in ("started", "advanced", "completed", "rolled_back"):
            self.rollout_moves.labels(pipeline, move)
        for code in get_args(GateCode):
            decision = "promoted" if code in _PROMOTING else "rejected"
            self.gate_decisions.labels(pipeline, decision, code)
