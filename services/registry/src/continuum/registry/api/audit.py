"""``/v1/audit``: who did what to which pipeline, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from continuum.contracts.envelope import PIPELINE_NAME_PATTERN
from continuum.registry.api.deps import Service
from continuum.registry_client import AuditEntry

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit")
async def audit(
    service: Service,
    pipeline: Annotated[str | None, Query(pattern=PIPELINE_NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntry]:
    """Audit entries, newest first, optionally for one pipeline."""
    return await service.db(service.store.audit, pipeline, limit)
