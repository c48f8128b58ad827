"""Serving's HTTP API: predictions, what is loaded, health and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route

from continuum.runtime import HealthEndpoint, broker_connected
from continuum.serving.bootstrap import ServingParts
from continuum.serving.endpoint import PredictHandler, json_bytes
from continuum.serving.validation import PredictRequest

_PREDICT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
    }
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(body), status, headers, media_type="application/json")


def build_router(state: ServingParts, handler: PredictHandler) -> APIRouter:
    """The routes, bound to one app's parts."""
    router = APIRouter()
    metrics = state.metrics
    table = state.table

    @router.post("/v1/pipelines/{name}/predict", openapi_extra=_PREDICT_OPENAPI)
    async def predict(name: str, request: Request) -> Response:
        """Predict for 1..max_records records with the pipeline's champion.

        The body is read raw and parsed with pydantic. Served by
        :class:`~continuum.serving.endpoint.PredictFastPath` ahead of FastAPI's routing;
        this route documents it and answers the same where that middleware is absent.
        """
        status, body, headers = await handler.respond(name, await request.body())
        return Response(body, status, headers, media_type="application/json")

    @router.get("/v1/pipelines")
    async def pipelines() -> Response:
        """Every known pipeline: the serving version, when it was loaded, refused versions."""
        body = []
        for name, slot in sorted(table.slots.items()):
            model = slot.current
            body.append(
                {
                    "pipeline": name,
                    "model_version": model.version if model else None,
                    "spec_version": model.spec_version if model else None,
                    "latest_spec_version": slot.latest_spec_version,
                    "loaded_at": model.loaded_at.isoformat() if model else None,
                    "refused_versions": sorted(state.manager.refused.get(name, ())),
                }
            )
        return _json({"pipelines": body})

    async def health() -> dict[str, Any]:
        """Ok once the broker is connected and the first registry sync is done.

        Having no model yet is healthy (a fresh platform starts before its first model);
        those pipelines answer 503 on predict.
        """
        broker_ok = await broker_connected(state.broker)
        status = "ok" if broker_ok and table.synced else "starting" if broker_ok else "degraded"
        return {
            "status": status,
            "service": "serving",
            "broker": broker_ok,
            "registry_synced": table.synced,
            "models": {k: v for k, v in table.versions().items() if v is not None},
            "pipelines": sorted(table.slots),
            "prediction_log_queue": state.log.queued,
        }

    router.routes.append(Route("/health", HealthEndpoint(health), methods=["GET"]))

    @router.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus text format."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
