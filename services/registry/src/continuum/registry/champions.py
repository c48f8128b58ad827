"""The champion alias and its history, inside a store transaction.

The alias row says who the champion is now (and is the row PostgreSQL locks while it
changes). The history is a stack of live promotions: promoting pushes, rolling back
marks the top as rolled back, so the entry below it is the champion to return to.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from continuum.registry.tables import ChampionAliasRow, ChampionHistoryRow, utc_now


def current_champion(session: Session, pipeline: str, *, for_update: bool = False) -> int | None:
    """The champion version of ``pipeline`` (row-locked on PostgreSQL with ``for_update``)."""
    query = select(ChampionAliasRow).where(ChampionAliasRow.pipeline == pipeline)
    if for_update:
        query = query.with_for_update()
    alias = session.exec(query).first()
    return alias.version if alias else None


def live_history(session: Session, pipeline: str) -> list[ChampionHistoryRow]:
    """Promotions not rolled back, newest first (the first is the current champion)."""
    query = select(ChampionHistoryRow).where(
        ChampionHistoryRow.pipeline == pipeline, col(ChampionHistoryRow.rolled_back_at).is_(None)
    )
    return list(session.exec(query.order_by(col(ChampionHistoryRow.id).desc())).all())


def set_champion(
    session: Session, pipeline: str, version: int, reason: str, actor: str
) -> int | None:
    """Make ``version`` the champion; returns the previous champion.

    Promoting the current champion again changes nothing (no duplicate history entry),
    so a repeated manual promotion stays idempotent and rollback still finds the one before.
    """
    query = select(ChampionAliasRow).where(ChampionAliasRow.pipeline == pipeline)
    alias = session.exec(query.with_for_update()).first()
    previous = alias.version if alias else None
    if previous == version:
        return previous
    if alias is None:
        alias = ChampionAliasRow(pipeline=pipeline, version=version)
    else:
        alias.version, alias.updated_at = version, utc_now()
    session.add(alias)
    session.add(
        ChampionHistoryRow(pipeline=pipeline, version=version, reason=reason, actor=actor[:200])
    )
    session.flush()
    return previous
