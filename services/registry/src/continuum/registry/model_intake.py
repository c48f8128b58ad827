"""The ``continuum.models.trained`` consumer: record runs, score candidates, run the gate.

The registry takes no figure from the event: it scores the candidate and the current
champion on the candidate's holdout itself (in a worker thread, bounded in rows and
time) and records its own figures on the version; claims that do not match are logged,
counted and noted in the decision reason.

Idempotent on ``run_id``: a redelivered event changes nothing (it only nudges the outbox,
in case the first delivery stored its events but could not publish them). A delivery that
did not get as far as storing its decision scores again on the same rows: same decision.
"""

from __future__ import annotations

import asyncio
import logging

from continuum.contracts import ModelTrained, PipelineSpec
from continuum.registry import announcements
from continuum.registry.candidate_check import (
    CandidateCheckError,
    CandidateScorer,
    ChampionModel,
)
from continuum.registry.claims import check_claims
from continuum.registry.gate import GateResult, Measured, decide, rejected
from continuum.registry.service import RegistryService
from continuum.registry.store import StoreUnavailableError
from continuum.registry_client import ModelVersionRecord
from continuum.runtime import TransientError

logger = logging.getLogger(__name__)

DEFAULT_SCORE_TIMEOUT_SECONDS = 120.0


class UnknownPipelineError(LookupError):
    """A run for a pipeline the registry has never seen (dead-lettered, not retried)."""


class ModelIntake:
    """Handles ``ModelTrained`` events."""

    def __init__(
        self,
        service: RegistryService,
        scorer: CandidateScorer,
        score_timeout_seconds: float = DEFAULT_SCORE_TIMEOUT_SECONDS,
    ) -> None:
        self.service = service
        self.scorer = scorer
        self.score_timeout_seconds = score_timeout_seconds

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
        champion = await db(store.get_champion, event.pipeline)
        champion_version = champion.version if champion else None
        champion_model = await self._champion(champion, latest.spec)
        outcome = await self._score(event, trained_for.spec, champion_model)
        if isinstance(outcome, GateResult):
            result, measured = outcome, None
        else:
            measured = outcome
            claims = check_claims(event, measured, latest.spec.promotion.metric, champion_version)
            if claims.mismatches:
                self.service.metrics.claim_mismatches.labels(event.pipeline).inc()
                logger.warning(
                    "%s run %s: metrics claimed by the event do not match the registry's: %s",
                    event.pipeline,
                    event.run_id,
                    "; ".join(claims.notes),
                )
            result = decide(
                latest.spec,
                measured,
                champion_version,
                champion.metrics if champion else None,
                claims.notes,
            )

        promotion = await db(
            store.register_model,
            _as_measured(event, measured, champion_version),
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
        elif result.decision == "rollout":
            metrics.rollout_moves.labels(event.pipeline, "started").inc()
        logger.info(
            "%s v%d (run %s): %s — %s",
            event.pipeline,
            promotion.champion.version,
            event.run_id,
            result.decision,
            result.reason,
        )

    async def _champion(
        self, record: ModelVersionRecord | None, latest: PipelineSpec
    ) -> ChampionModel | None:
        """The champion with the spec it was trained for (its features)."""
        if record is None:
            return None
        store = self.service.store
        trained_for = await self.service.db(store.get_spec, record.pipeline, record.spec_version)
        return ChampionModel(
            record.version, record.artifacts, trained_for.spec if trained_for else latest
        )

    async def _score(
        self, event: ModelTrained, spec: PipelineSpec, champion: ChampionModel | None
    ) -> Measured | GateResult:
        assert event.artifacts is not None
        work = asyncio.to_thread(self.scorer, event.artifacts, spec, champion)
        try:
            return await asyncio.wait_for(work, self.score_timeout_seconds)
        except CandidateCheckError as exc:
            what = "load check" if exc.code == "load_failed" else "scoring"
            return rejected(exc.code, f"candidate failed its {what}: {exc}")
        except TimeoutError:
            # The thread runs on to the end (its rows are bounded); the run is rejected.
            return rejected(
                "not_scored",
                f"scoring took longer than {self.score_timeout_seconds:g} s "
                "(CONTINUUM_REGISTRY_SCORE_TIMEOUT_SECONDS)",
            )


def _as_measured(
    event: ModelTrained, measured: Measured | None, champion_version: int | None
) -> ModelTrained:
    """The run as the registry records it: its own figures in place of the event's."""
    return event.model_copy(
        update={
            "metrics": dict(measured.candidate) if measured else {},
            "champion_metrics": dict(measured.champion or {}) if measured else {},
            "champion_version": champion_version,
        }
    )
