"""The ``continuum.models.trained`` consumer: record runs, check candidates, run the gate.

Idempotent on ``run_id``: a redelivered event changes nothing (it only nudges the outbox,
in case the first delivery stored its events but could not publish them).
"""

from __future__ import annotations

import asyncio
import logging

from continuum.contracts import ModelTrained, PipelineSpec
from continuum.registry import announcements
from continuum.registry.candidate_check import CandidateChecker, CandidateCheckError
from continuum.registry.gate import GateResult, decide, rejected
from continuum.registry.service import RegistryService
from continuum.registry.store import StoreUnavailableError
from continuum.runtime import TransientError

logger = logging.getLogger(__name__)


class UnknownPipelineError(LookupError):
    """A run for a pipeline the registry has never seen (dead-lettered, not retried)."""


class ModelIntake:
    """Handles ``ModelTrained`` events."""

    def __init__(self, service: RegistryService, checker: CandidateChecker) -> None:
        self.service = service
        self.checker = checker

    async def handle(self, event: ModelTrained) -> None:
        """Record the run; for a succeeded one, register a version and maybe promote it."""
        try:
            await self._handle(event)
        except StoreUnavailableError as exc:
            # Nothing was committed: let the broker redeliver the message after a backoff.
            raise TransientError(str(exc)) from exc
        await self.service.try_flush_outbox()

    async def _handle(self, event: ModelTrained) -> None:
        store, db = self.service.store, self.service.db
        if await db(store.has_run, event.run_id):
            logger.info("run %s of %s already recorded; ignoring", event.run_id, event.pipeline)
            return
        if event.status == "failed" or event.artifacts is None:
            reason = event.failure_reason or (
                "run failed" if event.status == "failed" else "run succeeded without artifacts"
            )
            await db(store.record_failed_run, event, reason)
            return

        latest = await db(store.get_spec, event.pipeline)
        if latest is None:
            raise UnknownPipelineError(f"ModelTrained for unknown pipeline {event.pipeline!r}")
        # The model was trained for its own spec version (its features); the promotion
        # policy in force is the latest one.
        trained_for = await db(store.get_spec, event.pipeline, event.spec_version) or latest
        result = await self._check(event, trained_for.spec)
        if result is None:
            champion = await db(store.get_champion, event.pipeline)
            result = decide(
                event,
                latest.spec,
                champion.version if champion else None,
                champion.metrics if champion else None,
            )

        promotion = await db(
            store.register_model,
            event,
            decision=result.decision,
            reason=result.reason,
            announce=announcements.gate_decided(event),
        )
        if promotion is None:  # another delivery of the same run won the race
            return
        metrics = self.service.metrics
        metrics.touch(event.pipeline)
        metrics.versions_registered.labels(event.pipeline).inc()
        metrics.gate_decisions.labels(event.pipeline, result.decision, result.code).inc()
        if result.promote:
            self.service.champion_changed(event.pipeline, promotion.champion.version)
        logger.info(
            "%s v%d (run %s): %s — %s",
            event.pipeline,
            promotion.champion.version,
            event.run_id,
            result.decision,
            result.reason,
        )

    async def _check(self, event: ModelTrained, spec: PipelineSpec) -> GateResult | None:
        assert event.artifacts is not None
        try:
            await asyncio.to_thread(self.checker, event.artifacts, spec)
        except CandidateCheckError as exc:
            return rejected("load_failed", f"candidate failed its load check: {exc}")
        return None
