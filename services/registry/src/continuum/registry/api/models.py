"""``/v1/pipelines/{name}/models`` and the champion: versions, promotion, rollback."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse

from continuum.registry.api.deps import Authorized, PipelinePath, Service, VersionPath
from continuum.registry_client import ModelVersionRecord, PromoteRequest, RollbackRequest
from continuum.storage import IntegrityError, ObjectStore, get_verified

router = APIRouter(prefix="/v1/pipelines/{name}", tags=["models"])


async def _require_pipeline(service: Service, name: str) -> None:
    if await service.db(service.store.get_spec, name) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"pipeline {name} not found")


@router.get("/models")
async def list_models(name: PipelinePath, service: Service) -> list[ModelVersionRecord]:
    """All versions of a pipeline, oldest first, with metrics and lineage."""
    await _require_pipeline(service, name)
    return await service.db(service.store.list_models, name)


@router.get("/models/{version}")
async def get_model(
    name: PipelinePath, version: VersionPath, service: Service
) -> ModelVersionRecord:
    """One model version."""
    record = await service.db(service.store.get_model, name, version)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{name} has no version {version}")
    return record


@router.get("/models/{version}/report", response_class=HTMLResponse)
async def get_report(
    name: PipelinePath, version: VersionPath, service: Service, request: Request
) -> HTMLResponse:
    """The version's error-analysis report (HTML), checked against its recorded sha256.

    404 for a version without one (runs from before reports, or whose report failed);
    502 when the stored bytes do not match the sha256 the run recorded.
    """
    record = await get_model(name, version, service)
    report = record.artifacts.report
    if report is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{name} v{version} has no report")
    store: ObjectStore = request.app.state.artifacts
    try:
        data = await asyncio.to_thread(get_verified, store, report)
    except IntegrityError as exc:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=str(exc)) from exc
    except (FileNotFoundError, KeyError) as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"{name} v{version}: report missing from the store"
        ) from exc
    return HTMLResponse(data.decode("utf-8", errors="replace"))


@router.get("/champion")
async def get_champion(name: PipelinePath, service: Service) -> ModelVersionRecord:
    """The champion; 404 before the first promotion."""
    record = await service.db(service.store.get_champion, name)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{name} has no champion yet")
    return record


@router.post("/champion", dependencies=[Authorized])
async def promote(name: PipelinePath, body: PromoteRequest, service: Service) -> ModelVersionRecord:
    """Make any registered version the champion (``ModelPromoted``, reason manual)."""
    promotion = await service.promote(name, body.version, body.actor, body.reason)
    return promotion.champion


@router.post("/rollback", dependencies=[Authorized])
async def rollback(
    name: PipelinePath, body: RollbackRequest, service: Service
) -> ModelVersionRecord:
    """Go back to the previous champion (``ModelPromoted``, reason rollback); 409 if none."""
    promotion = await service.rollback(name, body.actor, body.reason)
    return promotion.champion
