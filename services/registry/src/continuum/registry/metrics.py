"""The registry's Prometheus metrics, in the app's own ``CollectorRegistry``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class RegistryMetrics:
    """Counters and gauges the registry updates."""

    versions_registered: Counter
    gate_decisions: Counter
    champion_version: Gauge
    outbox_pending: Gauge

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
        )
