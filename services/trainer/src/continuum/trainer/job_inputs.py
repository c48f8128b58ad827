"""A run's inputs, gathered when it starts: the spec, the batches and the champion.

What is gathered here is frozen into the run's :class:`~continuum.trainer.jobs.TrainingJob`
and stored with it, so a resumed run trains on exactly what its first attempt had, even if
the registry moved on in between.
"""

from __future__ import annotations

from continuum.registry_client import RegistryClient
from continuum.runtime import Backoff, retrying
from continuum.trainer.jobs import ChampionRef, JobBatch, TrainingJob
from continuum.trainer.records import BatchRef, Run
from continuum.trainer.settings import TrainerSettings


async def prepare_job(
    run: Run, batches: list[BatchRef], *, registry: RegistryClient, settings: TrainerSettings
) -> TrainingJob | None:
    """The job of ``run`` on ``batches``; ``None`` when the registry has no spec for it.

    Registry calls are retried until they answer (a registry outage delays the run); the
    champion is scored with the features of the spec it was trained for.
    """
    pipeline = run.pipeline
    backoff = Backoff(max_seconds=settings.retry_max_seconds)
    record = await retrying(
        lambda: registry.get_spec(pipeline), what=f"fetching spec of {pipeline}", backoff=backoff
    )
    if record is None:
        return None
    champion = await retrying(
        lambda: registry.get_champion(pipeline),
        what=f"fetching champion of {pipeline}",
        backoff=backoff,
    )
    champion_ref: ChampionRef | None = None
    if champion is not None:
        champion_spec = record.spec
        if champion.spec_version != record.spec_version:
            old = await retrying(
                lambda: registry.get_spec_version(pipeline, champion.spec_version),
                what=f"fetching spec v{champion.spec_version} of {pipeline}",
                backoff=backoff,
            )
            champion_spec = old.spec if old else champion_spec
        champion_ref = ChampionRef(
            version=champion.version, artifacts=champion.artifacts, spec=champion_spec
        )
    return TrainingJob(
        pipeline=pipeline,
        run_id=run.run_id,
        spec=record.spec,
        spec_version=record.spec_version,
        data_root=settings.data_root,
        artifact_root=settings.artifact_root,
        batches=tuple(
            JobBatch(batch_id=b.batch_id, uri=b.uri, sha256=b.sha256, size_bytes=b.size_bytes)
            for b in batches
        ),
        champion=champion_ref,
        triggers=tuple(run.triggers),
        reference_max_rows=settings.reference_max_rows,
        report_max_rows=settings.report_max_rows,
        threads=settings.worker_threads,
    )
