"""The one place the registry is wired: ``build(settings)`` makes every part; nothing connects yet.

The registry is the one service with no ``registry`` hook (it is the registry); its
``store`` is the database (:class:`RegistryStore`), and ``scorer`` replaces the check that
a trained candidate loads and its scoring (with the champion's) on its holdout.
"""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from continuum.contracts import ModelTrained, RolloutChanged, RolloutEvaluated
from continuum.contracts.topics import MODELS_TRAINED, ROLLOUTS
from continuum.kafka import build_broker, watch_consumer_lag
from continuum.registry.candidate_check import ArtifactCandidateScorer, CandidateScorer
from continuum.registry.metrics import RegistryMetrics
from continuum.registry.model_intake import ModelIntake
from continuum.registry.rollouts import RolloutDriver
from continuum.registry.service import RegistryService
from continuum.registry.settings import RegistrySettings
from continuum.registry.sql_store import SqlRegistryStore
from continuum.registry.store import RegistryStore
from continuum.storage import open_store

SERVICE = "registry"
CONSUMER_GROUP = "continuum-registry"


@dataclass(frozen=True)
class RegistryParts:
    """What :func:`build` wired, for the app and for tests."""

    settings: RegistrySettings
    metrics: CollectorRegistry
    broker: KafkaBroker
    service: RegistryService
    rollouts: RolloutDriver


def build(
    settings: RegistrySettings,
    *,
    store: RegistryStore | None = None,
    broker: KafkaBroker | None = None,
    scorer: CandidateScorer | None = None,
) -> RegistryParts:
    """The registry's parts; store, broker and scorer default to the settings'."""
    collectors = CollectorRegistry()
    metrics = RegistryMetrics.create(collectors)
    broker = broker or build_broker(settings.kafka, service=SERVICE, registry=collectors)
    watch_consumer_lag(collectors, service=SERVICE, broker=broker)
    store = store or SqlRegistryStore.from_url(settings.resolved_database_url())
    scorer = scorer or ArtifactCandidateScorer(
        open_store(settings.artifact_root), max_rows=settings.max_holdout_rows
    )
    service = RegistryService(store, broker, metrics)
    intake = ModelIntake(service, scorer, score_timeout_seconds=settings.score_timeout_seconds)

    @broker.subscriber(MODELS_TRAINED, group_id=CONSUMER_GROUP, auto_offset_reset="earliest")
    async def on_model_trained(event: ModelTrained) -> None:
        await intake.handle(event)

    rollouts = RolloutDriver(service)

    # The rollouts topic carries the registry's own RolloutChanged too: read and skipped.
    @broker.subscriber(ROLLOUTS, group_id=CONSUMER_GROUP, auto_offset_reset="earliest")
    async def on_rollout_event(event: RolloutEvaluated | RolloutChanged) -> None:
        if isinstance(event, RolloutEvaluated):
            await rollouts.on_evaluated(event)

    return RegistryParts(
        settings=settings, metrics=collectors, broker=broker, service=service, rollouts=rollouts
    )
