"""The SQL store's views of training runs: the recent ones, and a pipeline's status."""

from __future__ import annotations

from sqlmodel import Session, col, select

from continuum.registry import sql_mapping as mapping
from continuum.registry.champions import current_champion
from continuum.registry.pipeline_status import summarize
from continuum.registry.tables import ModelVersionRow, TrainingRunRow
from continuum.registry_client import PipelineStatus, TrainingRunRecord


def list_runs(session: Session, pipeline: str, limit: int) -> list[TrainingRunRecord]:
    """The newest ``limit`` runs of ``pipeline``, with the gate's word on their versions."""
    rows = session.exec(
        select(TrainingRunRow)
        .where(TrainingRunRow.pipeline == pipeline)
        .order_by(col(TrainingRunRow.received_at).desc())
        .limit(limit)
    ).all()
    versions = {row.version for row in rows if row.version is not None}
    models: dict[int, ModelVersionRow] = {}
    if versions:
        found = session.exec(
            select(ModelVersionRow).where(
                ModelVersionRow.pipeline == pipeline, col(ModelVersionRow.version).in_(versions)
            )
        )
        models = {model.version: model for model in found}
    return [
        mapping.run_record(row, models.get(row.version) if row.version else None) for row in rows
    ]


def pipeline_status(session: Session, pipeline: str) -> PipelineStatus:
    """Whether ``pipeline`` has a champion, its last run, and a one-line summary."""
    champion = current_champion(session, pipeline)
    last = next(iter(list_runs(session, pipeline, 1)), None)
    return PipelineStatus(
        has_model=champion is not None,
        champion_version=champion,
        last_run=last,
        summary=summarize(champion, last),
    )
