"""``/v1/pipelines``: specs as code, versioned; status and runs; manual training requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from continuum.registry.api.deps import Authorized, PipelinePath, Service, VersionPath
from continuum.registry.api.spec_errors import SpecProblemsError, parse_or_explain
from continuum.registry_client import (
    ApplySpecRequest,
    PipelineSpecRecord,
    PipelineSummary,
    TrainingRequestAccepted,
    TrainingRequestBody,
    TrainingRunRecord,
)

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"])


def _not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


@router.get("")
async def list_pipelines(service: Service) -> list[PipelineSummary]:
    """Every pipeline with its latest spec version and champion."""
    return await service.db(service.store.list_pipelines)


@router.get("/{name}")
async def get_spec(name: PipelinePath, service: Service) -> PipelineSpecRecord:
    """The latest spec of a pipeline and its ``status``: whether it has a model to serve
    and, if not, why (e.g. ``no model: last run failed because ...``)."""
    record = await service.db(service.store.get_spec, name)
    if record is None:
        raise _not_found(f"pipeline {name}")
    pipeline_status = await service.db(service.store.pipeline_status, name)
    return record.model_copy(update={"status": pipeline_status})


@router.get("/{name}/runs")
async def list_runs(
    name: PipelinePath,
    service: Service,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[TrainingRunRecord]:
    """Recent training runs, newest first: status, trigger, failure reason, version."""
    if await service.db(service.store.get_spec, name) is None:
        raise _not_found(f"pipeline {name}")
    return await service.db(service.store.list_runs, name, limit)


@router.put(
    "/{name}",
    dependencies=[Authorized],
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "Identical to the latest version (unchanged)."}},
)
async def apply_spec(
    name: PipelinePath, body: ApplySpecRequest, service: Service, response: Response
) -> PipelineSpecRecord:
    """Store a spec as the next version and announce it; an identical spec changes nothing."""
    try:
        spec = parse_or_explain(body.spec_yaml)
    except SpecProblemsError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=exc.problems) from exc
    if spec.name != name:
        problem = {"path": "name", "reason": f"spec name {spec.name!r} differs from URL {name!r}"}
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[problem])
    record = await service.apply_spec(spec, body.applied_by)
    if record.unchanged:
        response.status_code = status.HTTP_200_OK
    return record


@router.get("/{name}/specs/{version}")
async def get_spec_version(
    name: PipelinePath, version: VersionPath, service: Service
) -> PipelineSpecRecord:
    """One stored version of a spec."""
    record = await service.db(service.store.get_spec, name, version)
    if record is None:
        raise _not_found(f"spec version {version} of {name}")
    return record


@router.post(
    "/{name}/training-requests",
    dependencies=[Authorized],
    status_code=status.HTTP_202_ACCEPTED,
)
async def request_training(
    name: PipelinePath, body: TrainingRequestBody, service: Service
) -> TrainingRequestAccepted:
    """Ask the trainer for a run now (``TrainingRequested``, trigger manual)."""
    event = await service.request_training(name, body.requested_by, body.reason)
    return TrainingRequestAccepted(
        event_id=str(event.event_id), correlation_id=str(event.correlation_id)
    )
