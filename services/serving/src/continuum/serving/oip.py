"""The Open Inference Protocol (V2, KServe/Triton's REST API) beside serving's ``/v1`` API.

Routes: ``GET /v2``, ``GET /v2/health/live|ready``, ``GET /v2/models/{name}[/versions/{v}]``
(metadata), ``GET /v2/models/{name}[/versions/{v}]/ready`` and
``POST /v2/models/{name}[/versions/{v}]/infer``. A model is a pipeline; its one version is
the champion this replica serves, so a request naming another version gets a 404. During
a canary an unversioned request may be answered by the candidate, and its response's
``model_version`` says so.

Inference goes through :meth:`Predictor.score`, like ``/v1`` predictions: the records are
checked by the same record contract and every prediction is logged to Kafka. Errors are
the protocol's ``{"error": "..."}`` bodies: 400 naming the input and the reason for a bad
request, 404 for an unknown model or version, 503 while no model is loaded. These are
plain FastAPI routes; only ``/v1`` predict takes the ASGI fast path.
"""

from __future__ import annotations

import logging
import time
from importlib import metadata
from typing import Any

from fastapi import APIRouter, Request, Response

from continuum.serving.bootstrap import ServingParts
from continuum.serving.endpoint import json_bytes
from continuum.serving.metrics import UNKNOWN_PIPELINE
from continuum.serving.models import ServingModel
from continuum.serving.oip_tensors import (
    InferenceRequest,
    ProtocolError,
    contract_message,
    input_metadata,
    output_metadata,
    output_tensors,
    parse_request,
    records_from_inputs,
    requested_outputs,
)
from continuum.serving.validation import RequestInvalidError

logger = logging.getLogger(__name__)

PLATFORM = "sklearn_skops"
"""Framework and format, as the protocol's platform names go (scikit-learn, skops files)."""


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions.

    pydantic points nested models at ``#/$defs/...``, which inside the OpenAPI document
    would resolve against the document's root, where there are none.
    """
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return dict(walk(schema))


_INFER_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inlined(InferenceRequest.model_json_schema())}},
    }
}


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(body), status, headers, media_type="application/json")


def _error(error: ProtocolError) -> Response:
    headers = {"retry-after": "1"} if error.status == 503 else None
    return _json({"error": error.message}, error.status, headers)


def build_oip_router(parts: ServingParts) -> APIRouter:
    """The V2 routes, bound to one app's parts."""
    router = APIRouter(prefix="/v2", tags=["Open Inference Protocol (V2)"])
    table, predictor, metrics = parts.table, parts.predictor, parts.metrics

    def served(name: str, version: str | None) -> ServingModel:
        """The model answering for ``name`` (and ``version``, if given), else raises."""
        slot = table.get(name)
        if slot is None:
            if not table.synced:
                raise ProtocolError("starting: models are loading", 503)
            raise ProtocolError(f"model '{name}' not found", 404)
        model = slot.current  # read once: this request keeps this model whatever swaps
        if model is None:
            raise ProtocolError(f"model '{name}' has no version loaded yet", 503)
        if version is not None and version != model.version_label:
            raise ProtocolError(
                f"model '{name}' version {version!r} is not served; "
                f"version {model.version_label} is",
                404,
            )
        return model

    @router.get("")
    async def server_metadata() -> Response:
        """The server's name, version and protocol extensions (none)."""
        version = metadata.version("continuum-serving")
        return _json({"name": "continuum-serving", "version": version, "extensions": []})

    @router.get("/health/live")
    async def live() -> Response:
        """200 while the process answers HTTP."""
        return Response(status_code=200)

    @router.get("/health/ready")
    async def ready() -> Response:
        """200 once the first registry sync is done (every champion loaded or refused)."""
        return Response(status_code=200 if table.synced else 400)

    async def model_ready(name: str, version: str | None = None) -> Response:
        try:
            served(name, version)
        except ProtocolError as exc:
            return Response(status_code=404 if exc.status == 404 else 400)
        return Response(status_code=200)

    async def model_metadata(name: str, version: str | None = None) -> Response:
        try:
            model = served(name, version)
        except ProtocolError as exc:
            return _error(exc)
        return _json(
            {
                "name": name,
                "versions": [model.version_label],
                "platform": PLATFORM,
                "inputs": input_metadata(model.spec),
                "outputs": output_metadata(model.spec),
            }
        )

    async def infer(name: str, request: Request, version: str | None = None) -> Response:
        started = time.perf_counter()
        label, model, answered = UNKNOWN_PIPELINE, None, None
        try:
            model = served(name, version)
            # Only an unpinned request takes part in a rollout: a pinned one asked for
            # the champion's version and gets it.
            slot = table.get(name)
            rollout = slot.rollout if slot is not None and version is None else None
            label = name
            if "inference-header-content-length" in request.headers:
                raise ProtocolError("binary tensor data is not supported, send JSON data")
            body = parse_request(await request.body())
            records = records_from_inputs(model.spec, body.inputs, predictor.max_records)
            names = requested_outputs(model.spec, body.outputs)
            scored = await predictor.score(model, records, rollout)
        except ProtocolError as exc:
            response = _error(exc)
        except RequestInvalidError as exc:
            response = _json({"error": contract_message(exc.errors)}, 400)
        except Exception:
            logger.exception("V2 inference failed for %s", name)
            response = _json({"error": "prediction failed"}, 500)
        else:
            answered = scored.model
            parameters: dict[str, Any] = {"request_id": scored.request_id}
            if scored.versions is not None:
                # Split between a canary's arms: the version that answered each row.
                parameters["model_versions"] = [str(v) for v in scored.versions]
            response = _json(
                {
                    "model_name": name,
                    "model_version": answered.version_label,
                    "id": body.id if body.id is not None else scored.request_id,
                    "parameters": parameters,
                    "outputs": output_tensors(model.spec, scored.predictions, names),
                }
            )
        metrics.requests.labels(label, str(response.status_code)).inc()
        if model is not None:
            duration_label = (answered or model).version_label
            metrics.request_duration.labels(name, duration_label).observe(
                time.perf_counter() - started
            )
        return response

    @router.get("/models/{name}")
    async def metadata_of(name: str) -> Response:
        """The model's inputs (one tensor per feature), outputs, platform and version."""
        return await model_metadata(name)

    @router.get("/models/{name}/versions/{version}")
    async def metadata_of_version(name: str, version: str) -> Response:
        """As ``/v2/models/{name}``, for the served version only (else 404)."""
        return await model_metadata(name, version)

    @router.get("/models/{name}/ready")
    async def ready_model(name: str) -> Response:
        """200 when the model has a version loaded; 404 unknown, 400 not ready."""
        return await model_ready(name)

    @router.get("/models/{name}/versions/{version}/ready")
    async def ready_version(name: str, version: str) -> Response:
        """200 when ``version`` is the one served."""
        return await model_ready(name, version)

    @router.post("/models/{name}/infer", openapi_extra=_INFER_OPENAPI)
    async def infer_latest(name: str, request: Request) -> Response:
        """Predict with the served version: one input tensor per feature, row-major JSON."""
        return await infer(name, request)

    @router.post("/models/{name}/versions/{version}/infer", openapi_extra=_INFER_OPENAPI)
    async def infer_version(name: str, version: str, request: Request) -> Response:
        """As ``/v2/models/{name}/infer``, refused with 404 unless ``version`` is served."""
        return await infer(name, request, version)

    return router
