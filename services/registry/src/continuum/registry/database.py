"""Engine creation for the registry database: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import SQLModel

from continuum.registry import tables  # noqa: F401  (registers every table on the metadata)

SQLITE_BUSY_TIMEOUT_SECONDS = 30


def _prepare_sqlite(engine: Engine) -> None:
    # pysqlite starts transactions lazily and upgrades read locks to write locks, which
    # fails fast under concurrency. Taking the write lock up front (BEGIN IMMEDIATE) makes
    # writers queue on the busy timeout instead, across threads and processes.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_registry_engine(url: str, *, create_tables: bool = True) -> Engine:
    """An engine for ``url`` (``sqlite:///file``, ``postgresql+psycopg://...``), tables made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        memory = parsed.database in (None, "", ":memory:")
        if not memory and parsed.database:
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options: dict[str, Any] = {
            "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
        }
        if memory:
            options["poolclass"] = StaticPool  # one shared connection, or each sees no tables
        engine = sa.create_engine(url, **options)
        _prepare_sqlite(engine)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    if create_tables:
        SQLModel.metadata.create_all(engine)
    return engine
