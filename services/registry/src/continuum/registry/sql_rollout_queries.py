"""The SQL store's rollout calls (:class:`RegistryStore`'s rollouts section).

A base of :class:`continuum.registry.sql_store.SqlRegistryStore`, which supplies
``_run`` (one committed session per call, retried on a lost race); the transactions
themselves are in :mod:`continuum.registry.sql_rollouts`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlmodel import Session, select

from continuum.registry import sql_rollouts as rollouts
from continuum.registry.store import LiveRollout, RolloutMove
from continuum.registry.tables import RolloutRow
from continuum.registry_client import RolloutRecord

T = TypeVar("T")


class SqlRolloutQueries:
    """Rollout reads and writes, each one transaction."""

    def _run(self, work: Callable[[Session], T]) -> T:
        raise NotImplementedError

    def get_rollout(self, pipeline: str) -> RolloutRecord | None:
        def work(session: Session) -> RolloutRecord | None:
            row = rollouts.live_row(session, pipeline) or rollouts.latest_row(session, pipeline)
            return rollouts.record(row) if row else None

        return self._run(work)

    def live_rollout(self, rollout_id: str) -> LiveRollout | None:
        def work(session: Session) -> LiveRollout | None:
            row = session.exec(
                select(RolloutRow).where(RolloutRow.rollout_id == rollout_id)
            ).first()
            return rollouts.live(row) if row and row.state in rollouts.LIVE else None

        return self._run(work)

    def live_rollouts(self) -> list[LiveRollout]:
        return self._run(lambda session: [rollouts.live(r) for r in rollouts.live_rows(session)])

    def start_rollout(
        self, pipeline: str, version: int, *, actor: str, reason: str
    ) -> RolloutRecord:
        return self._run(
            lambda session: rollouts.start_by_hand(
                session, pipeline, version, actor=actor, reason=reason
            )
        )

    def move_rollout(
        self, rollout_id: str, step: int, move: RolloutMove, *, actor: str, reason: str
    ) -> RolloutRecord | None:
        return self._run(
            lambda session: rollouts.move(
                session, rollout_id, step, move, actor=actor, reason=reason
            )
        )

    def abort_rollout(self, pipeline: str, *, actor: str, reason: str) -> RolloutRecord:
        return self._run(
            lambda session: rollouts.abort(session, pipeline, actor=actor, reason=reason)
        )
