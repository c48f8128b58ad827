"""The registry's SQL tables (SQLModel). Only :mod:`continuum.registry.sql_store` uses them.

Rows never leave the store: it maps them to the API's domain objects. Times are aware
UTC datetimes (SQLModel's ``UTCDateTime`` stores them as UTC on every backend).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    """Now, timezone-aware in UTC."""
    return datetime.now(UTC)


class SpecVersionRow(SQLModel, table=True):
    """One applied version of a pipeline spec."""

    __tablename__ = "pipeline_spec_versions"
    __table_args__ = (sa.UniqueConstraint("name", "version", name="uq_spec_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, index=True)
    version: int
    sha256: str = Field(max_length=64)
    spec: dict[str, Any] = Field(sa_type=sa.JSON)
    applied_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utc_now)


class TrainingRunRow(SQLModel, table=True):
    """Every ``ModelTrained`` run seen: a redelivered event is recognised, and failed runs
    (which register no version) stay visible with their reason.

    Columns added after the first release are nullable: ``schema_upgrade`` adds them to
    an existing database, and older rows simply lack them.
    """

    __tablename__ = "training_runs"

    run_id: str = Field(primary_key=True, max_length=200)
    pipeline: str = Field(max_length=64, index=True)
    status: str = Field(max_length=20)
    version: int | None = None
    event_id: str = Field(max_length=36)
    received_at: datetime = Field(default_factory=utc_now)
    trigger: str | None = Field(default=None, max_length=20)
    spec_version: int | None = None
    failure_reason: str | None = Field(default=None, sa_type=sa.Text)
    correlation_id: str | None = Field(default=None, max_length=36)


class ModelVersionRow(SQLModel, table=True):
    """A registered model version with its metrics, lineage and gate decision."""

    __tablename__ = "model_versions"
    __table_args__ = (sa.UniqueConstraint("pipeline", "version", name="uq_model_pipeline_version"),)

    id: int | None = Field(default=None, primary_key=True)
    pipeline: str = Field(max_length=64, index=True)
    version: int
    run_id: str = Field(max_length=200, unique=True)
    trigger: str = Field(max_length=20)
    spec_version: int
    metric: str | None = Field(default=None, max_length=50)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    champion_metrics: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    artifacts: dict[str, Any] = Field(sa_type=sa.JSON)
    data_version: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    training_seconds: float | None = None
    decision: str = Field(max_length=20)
    decision_reason: str
    correlation_id: str = Field(max_length=36)
    created_at: datetime = Field(default_factory=utc_now)


class ChampionAliasRow(SQLModel, table=True):
    """The current champion of a pipeline (locked with FOR UPDATE on PostgreSQL)."""

    __tablename__ = "champion_aliases"

    pipeline: str = Field(primary_key=True, max_length=64)
    version: int
    updated_at: datetime = Field(default_factory=utc_now)


class ChampionHistoryRow(SQLModel, table=True):
    """Each promotion, newest last. A rollback marks the newest live entry rolled back,
    so the live entries form a stack and rollback walks down it."""

    __tablename__ = "champion_history"

    id: int | None = Field(default=None, primary_key=True)
    pipeline: str = Field(max_length=64, index=True)
    version: int
    reason: str = Field(max_length=20)
    actor: str = Field(max_length=200)
    promoted_at: datetime = Field(default_factory=utc_now)
    rolled_back_at: datetime | None = None


class AuditRow(SQLModel, table=True):
    """One line of the audit log."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, index=True)
    pipeline: str = Field(max_length=64, index=True)
    action: str = Field(max_length=40)
    actor: str = Field(max_length=200)
    version: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class OutboxRow(SQLModel, table=True):
    """An event written in the same transaction as the change it announces (transactional
    outbox): a crash or a Kafka outage between commit and publish loses nothing."""

    __tablename__ = "event_outbox"

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=249)
    key: str = Field(max_length=64)
    event_id: str = Field(max_length=36)
    event_json: str
    created_at: datetime = Field(default_factory=utc_now)
    published_at: datetime | None = Field(default=None, index=True)


class RolloutRow(SQLModel, table=True):
    """A canary or shadow rollout of a candidate against the champion, and where it is.

    The deployment policy, metric and its direction are copied in at the start, so a spec
    applied mid-rollout does not change the rules of the rollout under way. At most one
    rollout of a pipeline is live (``started`` or ``advanced``) at a time.
    """

    __tablename__ = "rollouts"

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: str = Field(max_length=36, unique=True)
    pipeline: str = Field(max_length=64, index=True)
    strategy: str = Field(max_length=20)
    champion_version: int
    candidate_version: int
    step: int
    traffic_share: float
    state: str = Field(max_length=20, index=True)
    reason: str = Field(default="", sa_type=sa.Text)
    policy: dict[str, Any] = Field(sa_type=sa.JSON)
    metric: str = Field(max_length=50)
    higher_is_better: bool
    passed_reason: str | None = Field(default=None, sa_type=sa.Text)
    """The current step's latest passing verdict, while it waits out ``min_seconds``."""
    correlation_id: str = Field(max_length=36)
    started_at: datetime = Field(default_factory=utc_now)
    step_started_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
