"""An async client for the registry's HTTP API, used by services and the CLI."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from continuum.registry_client.api_models import (
    AbortRolloutRequest,
    ApplySpecRequest,
    AuditEntry,
    ModelVersionRecord,
    PipelineSpecRecord,
    PipelineSummary,
    PromoteRequest,
    RollbackRequest,
    RolloutRecord,
    StartRolloutRequest,
    TrainingRequestAccepted,
    TrainingRequestBody,
    TrainingRunRecord,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class RegistryError(Exception):
    """The registry answered with an error status; ``detail`` is its explanation."""

    def __init__(self, status_code: int, detail: Any, url: str) -> None:
        super().__init__(f"registry {status_code} for {url}: {detail}")
        self.status_code = status_code
        self.detail = detail


class RegistryUnavailableError(ConnectionError):
    """The registry could not be reached (a transient condition for consumers)."""


class RegistryClient:
    """``async with RegistryClient(url, token=...) as registry: ...``."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _request(
        self, method: str, path: str, body: BaseModel | None = None, **params: Any
    ) -> httpx.Response:
        try:
            response = await self._http.request(
                method,
                path,
                json=body.model_dump(mode="json") if body else None,
                params={k: v for k, v in params.items() if v is not None} or None,
            )
        except httpx.TransportError as exc:
            raise RegistryUnavailableError(
                f"registry unreachable at {self._http.base_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise RegistryError(response.status_code, detail, str(response.url))
        return response

    async def _get(self, path: str, kind: type[T] | Any, **params: Any) -> T:
        response = await self._request("GET", path, **params)
        return TypeAdapter(kind).validate_json(response.content)  # type: ignore[no-any-return]

    async def _send(self, method: str, path: str, body: BaseModel, kind: type[M]) -> M:
        """A write (``body`` as JSON) whose answer is one ``kind`` record."""
        response = await self._request(method, path, body)
        return kind.model_validate_json(response.content)

    async def _get_or_none(self, path: str, kind: type[T]) -> T | None:
        try:
            return await self._get(path, kind)
        except RegistryError as exc:
            if exc.status_code == 404:
                return None
            raise

    # -- pipelines ------------------------------------------------------------------
    async def list_pipelines(self) -> list[PipelineSummary]:
        """Every pipeline with its latest spec version and champion."""
        return await self._get("/v1/pipelines", list[PipelineSummary])

    async def get_spec(self, pipeline: str) -> PipelineSpecRecord | None:
        """The latest spec of ``pipeline`` with its ``status``, or ``None`` if it does not
        exist."""
        return await self._get_or_none(f"/v1/pipelines/{pipeline}", PipelineSpecRecord)

    async def get_spec_version(self, pipeline: str, version: int) -> PipelineSpecRecord | None:
        """One stored version of a spec."""
        return await self._get_or_none(
            f"/v1/pipelines/{pipeline}/specs/{version}", PipelineSpecRecord
        )

    async def apply_spec(
        self, name: str, spec_yaml: str, applied_by: str = "cli"
    ) -> PipelineSpecRecord:
        """Store a new spec version (or report it unchanged). Needs the token."""
        return await self._send(
            "PUT",
            f"/v1/pipelines/{name}",
            ApplySpecRequest(spec_yaml=spec_yaml, applied_by=applied_by),
            PipelineSpecRecord,
        )

    async def list_runs(self, pipeline: str, limit: int = 20) -> list[TrainingRunRecord]:
        """The pipeline's most recent training runs, newest first, failed ones included."""
        return await self._get(
            f"/v1/pipelines/{pipeline}/runs", list[TrainingRunRecord], limit=limit
        )

    # -- models ---------------------------------------------------------------------
    async def list_models(self, pipeline: str) -> list[ModelVersionRecord]:
        """All registered versions of ``pipeline``, oldest first."""
        return await self._get(f"/v1/pipelines/{pipeline}/models", list[ModelVersionRecord])

    async def get_model(self, pipeline: str, version: int) -> ModelVersionRecord | None:
        """One version with metrics and lineage."""
        return await self._get_or_none(
            f"/v1/pipelines/{pipeline}/models/{version}", ModelVersionRecord
        )

    async def get_report(self, pipeline: str, version: int) -> bytes:
        """The version's HTML error-analysis report (the registry checks its sha256).

        Raises :class:`RegistryError` (404) when the version has no report.
        """
        response = await self._request("GET", f"/v1/pipelines/{pipeline}/models/{version}/report")
        return response.content

    async def get_champion(self, pipeline: str) -> ModelVersionRecord | None:
        """The version serving should answer with, or ``None`` before the first promotion."""
        return await self._get_or_none(f"/v1/pipelines/{pipeline}/champion", ModelVersionRecord)

    async def promote(
        self, pipeline: str, version: int, reason: str, actor: str = "cli"
    ) -> ModelVersionRecord:
        """Make ``version`` the champion by hand. Needs the token."""
        return await self._send(
            "POST",
            f"/v1/pipelines/{pipeline}/champion",
            PromoteRequest(version=version, reason=reason, actor=actor),
            ModelVersionRecord,
        )

    async def rollback(self, pipeline: str, reason: str, actor: str = "cli") -> ModelVersionRecord:
        """Return to the previous champion. Needs the token."""
        return await self._send(
            "POST",
            f"/v1/pipelines/{pipeline}/rollback",
            RollbackRequest(reason=reason, actor=actor),
            ModelVersionRecord,
        )

    # -- rollouts -------------------------------------------------------------------
    async def rollout(self, pipeline: str) -> RolloutRecord | None:
        """The pipeline's current or latest rollout, or ``None`` if it never had one."""
        return await self._get_or_none(f"/v1/pipelines/{pipeline}/rollout", RolloutRecord)

    async def start_rollout(
        self, pipeline: str, version: int, reason: str = "manual rollout", actor: str = "cli"
    ) -> RolloutRecord:
        """Roll ``version`` out by the spec's deployment strategy. Needs the token."""
        return await self._send(
            "POST",
            f"/v1/pipelines/{pipeline}/rollouts",
            StartRolloutRequest(version=version, reason=reason, actor=actor),
            RolloutRecord,
        )

    async def abort_rollout(
        self, pipeline: str, reason: str = "aborted by hand", actor: str = "cli"
    ) -> RolloutRecord:
        """Roll the live rollout back now (the champion stays). Needs the token."""
        return await self._send(
            "POST",
            f"/v1/pipelines/{pipeline}/rollout/abort",
            AbortRolloutRequest(reason=reason, actor=actor),
            RolloutRecord,
        )

    async def request_training(
        self, pipeline: str, reason: str = "", requested_by: str = "cli"
    ) -> TrainingRequestAccepted:
        """Ask the trainer for a run now. Needs the token."""
        return await self._send(
            "POST",
            f"/v1/pipelines/{pipeline}/training-requests",
            TrainingRequestBody(reason=reason, requested_by=requested_by),
            TrainingRequestAccepted,
        )

    async def audit(self, pipeline: str | None = None, limit: int = 100) -> list[AuditEntry]:
        """The newest audit entries first."""
        return await self._get("/v1/audit", list[AuditEntry], pipeline=pipeline, limit=limit)
