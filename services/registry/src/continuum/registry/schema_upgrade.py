"""Additive schema upgrades: add columns that a table gained after its database was made.

``create_all`` creates missing tables but never alters existing ones, so a registry
database from an earlier release would lack new columns and every query naming them would
fail. New columns are always nullable (older rows have no value), which makes adding them
safe on SQLite and PostgreSQL alike. Anything beyond that needs a real migration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)


def add_missing_columns(engine: Engine, tables: Iterable[sa.Table]) -> list[str]:
    """Add each nullable column missing from an existing table; returns ``table.column``s."""
    inspector = sa.inspect(engine)
    quote = engine.dialect.identifier_preparer.quote
    statements: list[tuple[str, str]] = []
    for table in tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise RuntimeError(
                    f"{table.name}.{column.name} is missing and NOT NULL: needs a migration"
                )
            kind = column.type.compile(dialect=engine.dialect)
            sql = f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"
            statements.append((f"{table.name}.{column.name}", sql))
    if statements:
        with engine.begin() as connection:
            for name, sql in statements:
                logger.info("schema upgrade: adding column %s", name)
                connection.exec_driver_sql(sql)
    return [name for name, _ in statements]
