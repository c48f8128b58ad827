"""What the monitor reads from the registry: pipelines, their specs and champions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol
from uuid import UUID

from continuum.monitor.pipelines import Champion, PipelineState
from continuum.registry_client import (
    ModelVersionRecord,
    PipelineSpecRecord,
    PipelineSummary,
    RegistryError,
    RolloutRecord,
)
from continuum.runtime import TransientError


class RegistryReader(Protocol):
    """The read side of :class:`continuum.registry_client.RegistryClient` the monitor uses."""

    async def list_pipelines(self) -> list[PipelineSummary]:
        """Every pipeline."""
        ...

    async def get_spec(self, pipeline: str) -> PipelineSpecRecord | None:
        """The latest spec, or ``None``."""
        ...

    async def get_champion(self, pipeline: str) -> ModelVersionRecord | None:
        """The champion, or ``None`` before the first promotion."""
        ...

    async def rollout(self, pipeline: str) -> RolloutRecord | None:
        """The live or latest rollout, or ``None`` if the pipeline never had one."""
        ...


def _correlation_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        # Not a UUID (an older registry?): derive a stable one so the chain stays traceable.
        return uuid.uuid5(uuid.NAMESPACE_URL, f"continuum:{raw}")


def champion_from_record(record: ModelVersionRecord, since: datetime) -> Champion:
    """The champion the registry names, known as such from ``since``."""
    return Champion(
        version=record.version,
        reference_sample=record.artifacts.reference_sample,
        correlation_id=_correlation_id(record.correlation_id),
        since=since,
    )


def as_transient(exc: RegistryError) -> Exception:
    """A registry 5xx is worth retrying (redelivery); anything else is not."""
    if exc.status_code >= 500:
        return TransientError(str(exc))
    return exc


async def load_pipeline(registry: RegistryReader, name: str, now: datetime) -> PipelineState | None:
    """A pipeline's spec and champion from the registry (``None`` if it has no spec).

    ``now`` must be taken before the call: a promotion that happened after it is not in
    the registry's answer, so its event is not mistaken for a stale replay.
    """
    try:
        record = await registry.get_spec(name)
        if record is None:
            return None
        champion = await registry.get_champion(name)
    except RegistryError as exc:
        raise as_transient(exc) from exc
    state = PipelineState(name=name, spec=record.spec, spec_version=record.spec_version)
    if champion is not None:
        state.use_champion(champion_from_record(champion, since=now))
    return state
