"""``/v1/pipelines/{name}/rollout(s)``: read the current rollout, start one by hand, abort."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from continuum.registry.api.deps import Authorized, PipelinePath, Service
from continuum.registry.rollouts import RolloutDriver
from continuum.registry_client import AbortRolloutRequest, RolloutRecord, StartRolloutRequest

router = APIRouter(prefix="/v1/pipelines/{name}", tags=["rollouts"])


def get_driver(request: Request) -> RolloutDriver:
    """The app's :class:`RolloutDriver`."""
    driver: RolloutDriver = request.app.state.rollouts
    return driver


Driver = Annotated[RolloutDriver, Depends(get_driver)]


@router.get("/rollout")
async def get_rollout(name: PipelinePath, service: Service) -> RolloutRecord:
    """The live rollout, else the latest one (its last ``RolloutChanged``); 404 if none ever."""
    record = await service.db(service.store.get_rollout, name)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{name} has had no rollout")
    return record


@router.post("/rollouts", dependencies=[Authorized], status_code=status.HTTP_201_CREATED)
async def start_rollout(
    name: PipelinePath, body: StartRolloutRequest, driver: Driver
) -> RolloutRecord:
    """Roll a registered version out against the champion by the spec's ``deployment:``
    (a ``direct`` spec: canary with its steps). The gate is not asked. 404 for an unknown
    version; 409 without a champion, for the champion itself, or while one is live."""
    return await driver.start(name, body.version, body.actor, body.reason)


@router.post("/rollout/abort", dependencies=[Authorized])
async def abort_rollout(
    name: PipelinePath, body: AbortRolloutRequest, driver: Driver
) -> RolloutRecord:
    """Roll the live rollout back now (``RolloutChanged`` rolled_back); 409 when none is live."""
    return await driver.abort(name, body.actor, body.reason)
