"""Dependencies shared by the routes: the service, and the bearer token for writes."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from continuum.contracts.envelope import MAX_VERSION, PIPELINE_NAME_PATTERN
from continuum.registry.service import RegistryService

_bearer = HTTPBearer(auto_error=False, description="CONTINUUM_REGISTRY_TOKEN")


def get_service(request: Request) -> RegistryService:
    """The app's :class:`RegistryService`."""
    service: RegistryService = request.app.state.registry
    return service


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless ``Authorization: Bearer <CONTINUUM_REGISTRY_TOKEN>``."""
    expected: SecretStr = request.app.state.token
    given = credentials.credentials if credentials else ""
    # compare_digest: the time taken does not reveal how much of the token matched.
    if not credentials or not secrets.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="a valid bearer token is required for this call",
            headers={"WWW-Authenticate": "Bearer"},
        )


Service = Annotated[RegistryService, Depends(get_service)]
Authorized = Depends(require_token)
PipelinePath = Annotated[str, Path(pattern=PIPELINE_NAME_PATTERN, description="Pipeline name.")]
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version (1, 2, ...).")]
