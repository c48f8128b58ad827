"""422 bodies for requests FastAPI refuses, safe whatever the input was.

FastAPI's own handler echoes each bad input through ``json.dumps``, which fails (a 500)
on a number JSON cannot hold, such as ``{"version": 1e400}`` (parsed as infinity), and
echoes a 300,000-character string whole. This one writes non-finite numbers as strings
and cuts an echoed input to :data:`MAX_ECHO_CHARS`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic_core import to_json

MAX_ECHO_CHARS = 200


def _json(value: Any) -> bytes:
    return to_json(value, inf_nan_mode="strings", fallback=str)


def _short(value: Any) -> Any:
    """``value``, or the start of its text when it is longer than the echo limit."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float) or value is None:
        return value
    else:
        text = _json(value).decode()
        if len(text) <= MAX_ECHO_CHARS:
            return value
    return text if len(text) <= MAX_ECHO_CHARS else text[:MAX_ECHO_CHARS] + "..."


def _error(error: dict[str, Any]) -> dict[str, Any]:
    if "input" not in error:
        return error
    return {**error, "input": _short(error["input"])}


async def validation_error_response(_request: Request, exc: Exception) -> Response:
    """FastAPI's 422 body (``{"detail": [errors]}``), rendered so that it cannot fail."""
    assert isinstance(exc, RequestValidationError)
    body = {"detail": [_error(dict(error)) for error in exc.errors()]}
    return Response(
        _json(body), status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/json"
    )
