"""Rollouts in the registry: judge the monitor's evaluations, keep time, start and abort.

:class:`RolloutDriver` applies :mod:`continuum.registry.rollout_rules` to the store: a
``RolloutEvaluated`` of the live step is judged at once (roll back, hold, advance or
complete); a clock (``tick``, every ``rollout_tick_seconds``) moves on steps that passed
and waited out ``min_seconds``, and rolls back steps past ``max_step_seconds``. Every
move is one store transaction with its audit line and ``RolloutChanged`` (and, on
completion, ``ModelPromoted``) in the outbox, published right after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from continuum.contracts import RolloutEvaluated, utc_now
from continuum.registry.rollout_rules import Decision, Verdict, decide, next_move
from continuum.registry.service import RegistryService
from continuum.registry.store import LiveRollout, StoreUnavailableError
from continuum.registry_client import RolloutRecord
from continuum.runtime import TransientError

logger = logging.getLogger(__name__)

ACTOR = "registry"


class RolloutDriver:
    """Decides on live rollouts; the HTTP API starts and aborts them through it."""

    def __init__(self, service: RegistryService, clock: Callable[[], datetime] = utc_now) -> None:
        self.service = service
        self.clock = clock

    async def on_evaluated(self, event: RolloutEvaluated) -> None:
        """Judge the monitor's figures for one step; a stale or repeated one changes nothing."""
        try:
            live = await self.service.db(self.service.store.live_rollout, event.rollout_id)
            current = live is not None and (
                live.record.step == event.step
                and live.record.candidate_version == event.candidate_version
                and live.record.champion_version == event.champion_version
            )
            if live is None or not current:
                self._count(event.pipeline, "stale")
                return
            verdict, decision = decide(
                live.policy,
                live.metric,
                live.higher_is_better,
                live.record.step,
                live.record.step_started_at,
                event,
                self.clock(),
            )
            self._count(event.pipeline, "judged" if verdict.conclusive else "inconclusive")
            logger.info(
                "%s rollout %s step %d: %s (%s)",
                event.pipeline,
                event.rollout_id,
                event.step,
                verdict.code,
                verdict.reason,
            )
            await self._apply(live, decision, verdict)
        except StoreUnavailableError as exc:
            raise TransientError(str(exc)) from exc  # nothing committed: redeliver

    async def tick(self) -> None:
        """Move on every live step whose time has come (see the module docstring)."""
        now = self.clock()
        for live in await self.service.db(self.service.store.live_rollouts):
            # The gauge is right after a restart, and after a gate-driven start too.
            share = live.record.traffic_share
            self.service.metrics.rollout_traffic_share.labels(live.record.pipeline).set(share)
            passed = Verdict("passed", live.passed_reason) if live.passed_reason else None
            record = live.record
            decision = next_move(live.policy, record.step, record.step_started_at, passed, now)
            if decision.move != "hold":
                await self._apply(live, decision)

    async def clock_loop(self, interval_seconds: float) -> None:
        """Tick forever (cancelled at shutdown); a failed tick is retried on the next."""
        while True:
            try:
                await self.tick()
            except Exception:
                logger.warning("rollout clock tick failed; will retry", exc_info=True)
            await asyncio.sleep(interval_seconds)

    async def _apply(
        self, live: LiveRollout, decision: Decision, verdict: Verdict | None = None
    ) -> None:
        record = live.record
        if decision.move == "hold":
            if verdict is None or not verdict.passed:
                return
            reason = verdict.reason  # remembered, so the clock can advance it later
        else:
            reason = decision.reason
        moved = await self.service.db(
            self.service.store.move_rollout,
            record.rollout_id,
            record.step,
            decision.move,
            actor=ACTOR,
            reason=reason,
        )
        if moved is None or decision.move == "hold":
            return
        self.announced(moved)
        if moved.state == "completed":
            self.service.champion_changed(moved.pipeline, moved.candidate_version)
        await self.service.try_flush_outbox()

    # -- operators --------------------------------------------------------------------
    async def start(self, pipeline: str, version: int, actor: str, reason: str) -> RolloutRecord:
        """Roll ``version`` out against the champion by hand (the gate is not asked)."""
        record = await self.service.db(
            self.service.store.start_rollout, pipeline, version, actor=actor, reason=reason
        )
        self.announced(record)
        await self.service.try_flush_outbox()
        return record

    async def abort(self, pipeline: str, actor: str, reason: str) -> RolloutRecord:
        """Roll the live rollout back now; the champion stays."""
        record = await self.service.db(
            self.service.store.abort_rollout, pipeline, actor=actor, reason=reason
        )
        self.announced(record)
        await self.service.try_flush_outbox()
        return record

    # -- metrics ----------------------------------------------------------------------
    def announced(self, record: RolloutRecord) -> None:
        """Count a published move and keep the traffic-share gauge in step."""
        metrics = self.service.metrics
        metrics.rollout_moves.labels(record.pipeline, record.state).inc()
        share = record.traffic_share if record.live else 0.0
        metrics.rollout_traffic_share.labels(record.pipeline).set(share)
        logger.info(
            "%s rollout %s of v%d against v%d: %s at step %d (share %.2f): %s",
            record.pipeline,
            record.rollout_id,
            record.candidate_version,
            record.champion_version,
            record.state,
            record.step,
            record.traffic_share,
            record.reason,
        )

    def _count(self, pipeline: str, outcome: str) -> None:
        self.service.metrics.rollout_evaluations.labels(pipeline, outcome).inc()
