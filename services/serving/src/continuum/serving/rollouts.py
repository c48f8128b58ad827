"""Keeps each pipeline's rollout (canary or shadow candidate) as the registry has it.

The registry runs the rollout state machine; serving only follows it. A
``RolloutChanged`` event (signature-checked by the broker like every event) only says
where to look: the keeper then reads ``GET /v1/pipelines/{name}/rollout`` and applies
that, so a forged, stale or replayed event changes nothing the registry did not decide,
and applying the same state twice is a no-op. The same read runs at start and in the
reconciler, so a replica restarted mid-rollout resumes it.

A live rollout loads its candidate through the same verified path as a promotion
(sha256-checked artifacts, the skops allowlist, a warm-up prediction); moving to the
next step only changes the traffic share (no reload). ``completed``, ``rolled_back``,
a canary share of 0, or the candidate becoming the champion end the candidate arm; on
``completed`` the registry's ``ModelPromoted`` makes the candidate the champion through
the ordinary swap (:class:`~continuum.serving.manager.ModelManager`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Protocol
from uuid import UUID

from continuum.contracts import ModelArtifacts, RolloutChanged
from continuum.registry_client import RegistryClient, RolloutRecord
from continuum.serving.metrics import Arm, ServingMetrics
from continuum.serving.models import ModelTable, PipelineSlot, Rollout, ServingModel

logger = logging.getLogger(__name__)


class LoadModel(Protocol):
    """:meth:`ModelManager.load_model`: a verified, warmed model, or ``None`` if refused."""

    def __call__(
        self,
        slot: PipelineSlot,
        *,
        version: int,
        spec_version: int,
        artifacts: ModelArtifacts,
        correlation_id: UUID,
        arm: Arm,
    ) -> Awaitable[ServingModel | None]: ...


class RolloutKeeper:
    """Loads, re-routes and ends rollout candidates for every pipeline in a table."""

    def __init__(
        self,
        table: ModelTable,
        registry: RegistryClient,
        metrics: ServingMetrics,
        *,
        load: LoadModel,
        refused: dict[str, set[int]],
    ) -> None:
        self.table = table
        self.registry = registry
        self.metrics = metrics
        self.load = load
        self.refused = refused

    async def on_changed(self, event: RolloutChanged) -> bool:
        """Follow a rollout event, as the registry confirms it; True if routing changed.

        Transient failures (registry or storage unreachable) raise, so the broker
        redelivers.
        """
        slot = self.table.get(event.pipeline)
        if slot is None:
            logger.info("ignoring rollout %s of unknown %s", event.rollout_id, event.pipeline)
            return False
        return await self._follow(slot, announced=event)

    async def sync(self, name: str) -> bool:
        """Apply the registry's rollout of ``name`` (at start and when reconciling)."""
        slot = self.table.get(name)
        return False if slot is None else await self._follow(slot)

    def end(self, slot: PipelineSlot, why: str) -> None:
        """Stop routing to ``slot``'s candidate: the champion answers everything."""
        rollout = slot.rollout
        if rollout is None:
            return
        slot.rollout = None  # one assignment: in-flight requests finish on what they read
        self.metrics.rollout_share.labels(slot.name).set(0.0)
        logger.info(
            "%s: rollout %s of v%d ended (%s)",
            slot.name,
            rollout.rollout_id,
            rollout.candidate.version,
            why,
        )

    async def _follow(self, slot: PipelineSlot, announced: RolloutChanged | None = None) -> bool:
        async with slot.rollout_lock:
            # Read under the lock: whoever applies last applies the newest state.
            record = await self.registry.rollout(slot.name)
            if announced is not None and (
                record is None or record.rollout_id != announced.rollout_id
            ):
                logger.warning(
                    "%s: rollout event %s (%s) is not the registry's rollout (%s): "
                    "following the registry",
                    slot.name,
                    announced.rollout_id,
                    announced.state,
                    record.rollout_id if record else "none",
                )
            return await self._apply(slot, record)

    async def _apply(self, slot: PipelineSlot, record: RolloutRecord | None) -> bool:
        current, champion = slot.rollout, slot.current
        if record is None or not record.live:
            self.end(slot, record.state if record else "no rollout")
            return current is not None
        if champion is not None and champion.version == record.candidate_version:
            self.end(slot, "the candidate is the champion")
            return current is not None
        if record.strategy == "canary" and record.traffic_share <= 0:
            self.end(slot, "traffic share 0")
            return current is not None
        arm: Arm = "candidate" if record.strategy == "canary" else "shadow"
        if (
            current is not None
            and current.candidate.version == record.candidate_version
            and current.candidate.arm == arm
        ):
            if (current.rollout_id, current.step, current.traffic_share) == (
                record.rollout_id,
                record.step,
                record.traffic_share,
            ):
                return False  # already so: a redelivered or replayed event
            candidate = current.candidate  # a new step: no reload
        else:
            loaded = await self._load_candidate(slot, record, arm)
            if loaded is None:
                self.end(slot, "candidate not loaded")
                return current is not None
            candidate = loaded
        slot.rollout = Rollout(
            record.rollout_id, record.strategy, record.step, record.traffic_share, candidate
        )
        self.metrics.rollout_share.labels(slot.name).set(slot.rollout.traffic_share)
        logger.info(
            "%s: rollout %s (%s) step %d: v%d answers %.0f%% of requests%s",
            slot.name,
            record.rollout_id,
            record.strategy,
            record.step,
            record.candidate_version,
            100 * record.traffic_share,
            " (shadow: a copy of each)" if record.strategy == "shadow" else "",
        )
        return True

    async def _load_candidate(
        self, slot: PipelineSlot, record: RolloutRecord, arm: Arm
    ) -> ServingModel | None:
        version = record.candidate_version
        if version in self.refused.get(slot.name, ()):
            return None
        model = await self.registry.get_model(slot.name, version)
        if model is None:
            self.metrics.model_load_errors.labels(slot.name, "unknown_version").inc()
            logger.warning("%s: rollout candidate v%d is unknown", slot.name, version)
            return None
        return await self.load(
            slot,
            version=version,
            spec_version=model.spec_version,
            artifacts=model.artifacts,
            correlation_id=UUID(model.correlation_id),
            arm=arm,
        )
