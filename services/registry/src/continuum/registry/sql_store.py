"""The SQL implementation of :class:`RegistryStore` (SQLite or PostgreSQL, sync engine).

Each call is one short session. Version numbers are allocated as ``max + 1`` under a
unique ``(pipeline, version)`` constraint. Writers of one pipeline are serialised (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped advisory lock per pipeline); should
two still collide, the loser gets an ``IntegrityError`` and its transaction is retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel import Session, SQLModel, col, func, select

from continuum.contracts import (
    GateDecision,
    ModelTrained,
    PipelineSpec,
    TrainingRequested,
    decode_event,
)
from continuum.registry import sql_mapping as mapping
from continuum.registry import sql_rollouts as rollouts
from continuum.registry import sql_runs as runs
from continuum.registry import sql_writes as writes
from continuum.registry.champions import current_champion
from continuum.registry.database import create_registry_engine
from continuum.registry.schema_upgrade import add_missing_columns
from continuum.registry.sql_rollout_queries import SqlRolloutQueries
from continuum.registry.store import (
    ModelAnnouncer,
    PendingEvent,
    Promotion,
    SpecAnnouncer,
    StoreUnavailableError,
)
from continuum.registry.tables import (
    AuditRow,
    ChampionAliasRow,
    ModelVersionRow,
    OutboxRow,
    SpecVersionRow,
    TrainingRunRow,
    utc_now,
)
from continuum.registry_client import (
    AuditEntry,
    ModelVersionRecord,
    PipelineSpecRecord,
    PipelineStatus,
    PipelineSummary,
    TrainingRunRecord,
)

T = TypeVar("T")

MAX_WRITE_ATTEMPTS = 5


class SqlRegistryStore(SqlRolloutQueries):
    """:class:`continuum.registry.store.RegistryStore` on a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> SqlRegistryStore:
        """A store on ``url`` (no connection is made until :meth:`setup` or a call)."""
        return cls(create_registry_engine(url, create_tables=False))

    def setup(self) -> None:
        try:
            SQLModel.metadata.create_all(self.engine)
            add_missing_columns(self.engine, SQLModel.metadata.sorted_tables)
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailableError(f"registry database unavailable: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- plumbing ---------------------------------------------------------------------
    def _run(self, work: Callable[[Session], T]) -> T:
        for attempt in range(1, MAX_WRITE_ATTEMPTS + 1):
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    result = work(session)
                    session.commit()
                    return result
            except IntegrityError:
                if attempt == MAX_WRITE_ATTEMPTS:
                    raise
                # Lost a race for a version number (or a run id): recount and retry.
            except (OperationalError, InterfaceError, PoolTimeoutError) as exc:
                raise StoreUnavailableError(f"registry database unavailable: {exc}") from exc
        raise AssertionError("unreachable")

    # -- reads ------------------------------------------------------------------------
    def ping(self) -> None:
        self._run(lambda session: session.exec(select(sa.literal(1))).one())

    def list_pipelines(self) -> list[PipelineSummary]:
        def work(session: Session) -> list[PipelineSummary]:
            latest = (
                select(SpecVersionRow.name, func.max(SpecVersionRow.version).label("v"))
                .group_by(SpecVersionRow.name)
                .subquery()
            )
            rows = session.exec(
                select(SpecVersionRow)
                .join(
                    latest,
                    sa.and_(
                        col(SpecVersionRow.name) == latest.c.name,
                        col(SpecVersionRow.version) == latest.c.v,
                    ),
                )
                .order_by(SpecVersionRow.name)
            ).all()
            counts = dict(
                session.exec(
                    select(ModelVersionRow.pipeline, func.count()).group_by(
                        ModelVersionRow.pipeline
                    )
                ).all()
            )
            champions = {a.pipeline: a.version for a in session.exec(select(ChampionAliasRow))}
            return [
                PipelineSummary(
                    name=row.name,
                    spec_version=row.version,
                    source_topic=str(row.spec["source_topic"]),
                    task=str(row.spec["task"]),
                    champion_version=champions.get(row.name),
                    model_versions=int(counts.get(row.name, 0)),
                )
                for row in rows
            ]

        return self._run(work)

    def get_spec(self, name: str, version: int | None = None) -> PipelineSpecRecord | None:
        def work(session: Session) -> PipelineSpecRecord | None:
            if version is None:
                row = writes.latest_spec_row(session, name)
            else:
                row = session.exec(
                    select(SpecVersionRow).where(
                        SpecVersionRow.name == name, SpecVersionRow.version == version
                    )
                ).first()
            return mapping.spec_record(row) if row else None

        return self._run(work)

    def list_models(self, pipeline: str) -> list[ModelVersionRecord]:
        def work(session: Session) -> list[ModelVersionRecord]:
            champion = current_champion(session, pipeline)
            rows = session.exec(
                select(ModelVersionRow)
                .where(ModelVersionRow.pipeline == pipeline)
                .order_by(col(ModelVersionRow.version))
            ).all()
            return [mapping.model_record(row, champion) for row in rows]

        return self._run(work)

    def get_model(self, pipeline: str, version: int) -> ModelVersionRecord | None:
        def work(session: Session) -> ModelVersionRecord | None:
            row = writes.model_row(session, pipeline, version)
            return mapping.model_record(row, current_champion(session, pipeline)) if row else None

        return self._run(work)

    def get_champion(self, pipeline: str) -> ModelVersionRecord | None:
        def work(session: Session) -> ModelVersionRecord | None:
            champion = current_champion(session, pipeline)
            row = writes.model_row(session, pipeline, champion) if champion else None
            return mapping.model_record(row, champion) if row else None

        return self._run(work)

    def champions(self) -> dict[str, int]:
        return self._run(
            lambda session: {a.pipeline: a.version for a in session.exec(select(ChampionAliasRow))}
        )

    def has_run(self, run_id: str) -> bool:
        return self._run(lambda session: session.get(TrainingRunRow, run_id) is not None)

    def list_runs(self, pipeline: str, limit: int = 20) -> list[TrainingRunRecord]:
        return self._run(lambda session: runs.list_runs(session, pipeline, limit))

    def pipeline_status(self, pipeline: str) -> PipelineStatus:
        return self._run(lambda session: runs.pipeline_status(session, pipeline))

    def audit(self, pipeline: str | None = None, limit: int = 100) -> list[AuditEntry]:
        def work(session: Session) -> list[AuditEntry]:
            query = select(AuditRow)
            if pipeline is not None:
                query = query.where(AuditRow.pipeline == pipeline)
            rows = session.exec(query.order_by(col(AuditRow.id).desc()).limit(limit)).all()
            return [mapping.audit_entry(row) for row in rows]

        return self._run(work)

    # -- writes -----------------------------------------------------------------------
    def apply_spec(
        self, spec: PipelineSpec, applied_by: str, announce: SpecAnnouncer
    ) -> PipelineSpecRecord:
        return self._run(lambda session: writes.apply_spec(session, spec, applied_by, announce))

    def record_failed_run(self, event: ModelTrained, reason: str) -> bool:
        return self._run(lambda session: writes.record_failed_run(session, event, reason))

    def register_model(
        self,
        event: ModelTrained,
        *,
        decision: GateDecision,
        reason: str,
        announce: ModelAnnouncer,
    ) -> Promotion | None:
        def work(session: Session) -> Promotion | None:
            nonlocal decision
            if decision == "rollout" and current_champion(session, event.pipeline) is None:
                decision = "promoted"  # the champion went away meanwhile: nothing to roll against
            registered = writes.register_model(session, event, decision, reason, announce)
            if registered is not None and decision == "rollout":
                row = writes.model_row(session, event.pipeline, registered.champion.version)
                assert row is not None  # just stored
                rollouts.start(session, row, actor="registry", reason=reason, manual=False)
            return registered

        return self._run(work)

    def promote(
        self, pipeline: str, version: int, *, actor: str, reason: str, announce: ModelAnnouncer
    ) -> Promotion:
        def work(session: Session) -> Promotion:
            # The champion changes by hand under a live rollout: the rollout is over.
            why = f"champion set to v{version} by hand: {reason}"
            rollouts.end_live(session, pipeline, actor=actor, reason=why)
            return writes.promote(session, pipeline, version, actor, reason, announce)

        return self._run(work)

    def rollback(
        self, pipeline: str, *, actor: str, reason: str, announce: ModelAnnouncer
    ) -> Promotion:
        def work(session: Session) -> Promotion:
            why = f"champion rolled back by hand: {reason}"
            rollouts.end_live(session, pipeline, actor=actor, reason=why)
            return writes.rollback(session, pipeline, actor, reason, announce)

        return self._run(work)

    def record_training_request(self, event: TrainingRequested) -> None:
        self._run(lambda session: writes.record_training_request(session, event))

    # -- outbox -----------------------------------------------------------------------
    def pending_events(self, limit: int = 100) -> list[PendingEvent]:
        def work(session: Session) -> list[PendingEvent]:
            rows = session.exec(
                select(OutboxRow)
                .where(col(OutboxRow.published_at).is_(None))
                .order_by(col(OutboxRow.id))
                .limit(limit)
            ).all()
            return [PendingEvent(row.id, decode_event(row.event_json)) for row in rows if row.id]

        return self._run(work)

    def mark_published(self, outbox_ids: Sequence[int]) -> None:
        if not outbox_ids:
            return

        def work(session: Session) -> None:
            session.exec(
                sa.update(OutboxRow)
                .where(col(OutboxRow.id).in_(list(outbox_ids)))
                .values(published_at=utc_now())
            )

        self._run(work)
