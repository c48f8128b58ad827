"""A cap on request body size, enforced before the body is read (pure ASGI middleware).

A declared ``Content-Length`` over the limit is answered 413 before the app runs; a
chunked body (no length) is counted as the app receives it, and the app is stopped at the
first chunk that crosses the limit. So at most ``max_bytes`` plus one chunk of a request
is ever held, whatever the client sends: eight 50 MB bodies cost no more than eight small
ones. Serving and the registry put it around their apps, limit from their settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _BodyTooLargeError(Exception):
    """Raised into the app from ``receive`` when the counted body passes the limit."""


def describe_size(n_bytes: int) -> str:
    """``1 MiB``, ``512 KiB`` or ``1000 bytes``: the limit as an operator would set it."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= size and n_bytes % size == 0:
            return f"{n_bytes // size} {unit}"
    return f"{n_bytes} bytes"


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length before we see it
    return None


class BodySizeLimit:
    """413 ``{"detail": "request body exceeds <limit> (<setting>)"}`` beyond ``max_bytes``.

    ``setting`` names the knob that raises the limit, so the error says how to fix it.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, setting: str) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.detail = f"request body exceeds {describe_size(max_bytes)} ({setting})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        received = 0
        response_started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _BodyTooLargeError:
            if response_started:
                # Too late for a 413: the app answered before reading it all. Stop quietly.
                logger.warning("request body passed %d bytes after the response began", received)
                return
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self.detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The unread rest of the body makes the connection unusable.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
