"""``POST /v1/pipelines/{name}/predict`` as a plain ASGI handler, ahead of FastAPI's routing.

Profiled at 2,000 requests/s (py-spy, bench/serving_bench.py), FastAPI's per-request
machinery (exception middleware, route matching, dependency solving, ``Request``) took
more time than parsing, checking, predicting and logging a 1-record request together.
Predictions therefore skip it: :class:`PredictFastPath` answers them from the raw ASGI
messages and hands every other request to the app. The FastAPI route stays (it documents
the endpoint in OpenAPI and answers the same, through :meth:`PredictHandler.respond`).
The body size limit wraps both (``BodySizeLimit`` is outside this middleware).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import Counter, Histogram
from pydantic_core import to_json

from continuum.runtime.body_limit import ASGIApp, Receive, Scope, Send
from continuum.serving.metrics import UNKNOWN_PIPELINE, ServingMetrics
from continuum.serving.models import ModelTable
from continuum.serving.predictor import Predictor
from continuum.serving.validation import RequestInvalidError

logger = logging.getLogger(__name__)

_PREFIX = "/v1/pipelines/"
_SUFFIX = "/predict"
Answer = tuple[int, bytes, dict[str, str] | None]


def json_bytes(body: Any) -> bytes:
    """A response body. A 422 echoes inputs such as 1e400 (inf): "Infinity" keeps it JSON."""
    return to_json(body, inf_nan_mode="strings")


class PredictHandler:
    """Status, body and headers for one predict request; metrics children bound once."""

    def __init__(self, table: ModelTable, predictor: Predictor, metrics: ServingMetrics) -> None:
        self.table = table
        self.predictor = predictor
        self.metrics = metrics
        # Label lookups cost a lock and a dict per call; these caches hold the children.
        self._requests: dict[tuple[str, int], Counter] = {}
        self._duration: dict[tuple[str, str], Histogram] = {}

    def _count(self, pipeline: str, status: int) -> None:
        child = self._requests.get((pipeline, status))
        if child is None:
            child = self.metrics.requests.labels(pipeline, str(status))
            self._requests[(pipeline, status)] = child
        child.inc()

    async def respond(self, name: str, body: bytes) -> Answer:
        """Predict with ``name``'s champion (and its rollout's candidate, if any): 200, or
        404/422/500/503 with a ``detail``."""
        started = time.perf_counter()
        slot = self.table.get(name)
        if slot is None:
            if not self.table.synced:
                self._count(UNKNOWN_PIPELINE, 503)
                detail = {"detail": "starting: models are loading"}
                return 503, json_bytes(detail), {"retry-after": "1"}
            self._count(UNKNOWN_PIPELINE, 404)
            return 404, json_bytes({"detail": f"pipeline {name!r} not found"}), None
        model = slot.current  # read once: this request keeps this model whatever swaps
        if model is None:
            self._count(name, 503)
            return 503, json_bytes({"detail": "no model yet"}), {"retry-after": "5"}
        label = model.version_label
        try:
            result = await self.predictor.handle(model, body, slot.rollout)
        except RequestInvalidError as exc:
            answer: Answer = (422, json_bytes({"detail": exc.errors}), None)
        except Exception:
            logger.exception("prediction failed for %s v%d", name, model.version)
            answer = (500, json_bytes({"detail": "prediction failed"}), None)
        else:
            answer = (200, json_bytes(result.body), None)
            label = result.version_label  # a canary's candidate, when it answered
        self._count(name, answer[0])
        key = (name, label)
        duration = self._duration.get(key)
        if duration is None:
            duration = self._duration[key] = self.metrics.request_duration.labels(*key)
        duration.observe(time.perf_counter() - started)
        return answer


class PredictFastPath:
    """ASGI middleware: predict requests go to :class:`PredictHandler`, the rest to the app."""

    def __init__(self, app: ASGIApp, *, handler: PredictHandler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and path.startswith(_PREFIX)
            and path.endswith(_SUFFIX)
        ):
            name = path[len(_PREFIX) : -len(_SUFFIX)]
            if name and "/" not in name:
                await self._predict(name, receive, send)
                return
        await self.app(scope, receive, send)

    async def _predict(self, name: str, receive: Receive, send: Send) -> None:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        status, body, extra = await self.handler.respond(name, b"".join(chunks))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if extra:
            headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
