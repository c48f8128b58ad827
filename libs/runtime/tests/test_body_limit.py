"""The body cap: 413 naming the limit, decided before the body is read.

A client streaming 50 MB gets its 413 after the app has pulled just over the limit;
a declared ``Content-Length`` over the limit is refused before the app runs at all.
(Serving's and the registry's own tests check it is around their apps.)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from continuum.runtime import BodySizeLimit, describe_size

FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024
LIMIT = 1 << 20


class Chunks:
    """A request body of ``total`` bytes, counting how many chunks were pulled from it."""

    def __init__(self, total: int, *, chunk: int = CHUNK) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            size = min(self.chunk, self.total - sent)
            self.pulled += 1
            sent += size
            yield b" " * size


async def _echo_length(scope: Any, receive: Any, send: Any) -> None:
    """A bare ASGI app that reads its whole body and answers its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = json.dumps({"size": size}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [(1 << 20, "1 MiB"), (512 * 1024, "512 KiB"), (3 << 30, "3 GiB"), (1000, "1000 bytes")],
)
def test_describe_size(n_bytes: int, text: str) -> None:
    assert describe_size(n_bytes) == text


async def test_a_streamed_body_is_cut_off_just_past_the_limit() -> None:
    app = BodySizeLimit(_echo_length, max_bytes=LIMIT, setting="THE_SETTING")
    body = Chunks(FIFTY_MB)
    async with _client(app) as client:
        response = await client.post("/", content=body)  # no length: sent chunked
    assert response.status_code == 413
    assert response.json() == {"detail": "request body exceeds 1 MiB (THE_SETTING)"}
    # The chunk that crossed the limit is the last one read: 17 of 800.
    assert body.pulled == LIMIT // CHUNK + 1


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    reached_app = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal reached_app
        reached_app = True
        await _echo_length(scope, receive, send)

    limited = BodySizeLimit(app, max_bytes=LIMIT, setting="THE_SETTING")
    body = Chunks(FIFTY_MB)
    async with _client(limited) as client:
        response = await client.post("/", content=body, headers={"content-length": str(FIFTY_MB)})
    assert response.status_code == 413 and response.headers["connection"] == "close"
    assert reached_app is False and body.pulled == 0


async def test_bodies_up_to_the_limit_pass_untouched() -> None:
    app = BodySizeLimit(_echo_length, max_bytes=LIMIT, setting="THE_SETTING")
    async with _client(app) as client:
        exact = await client.post("/", content=b"x" * LIMIT)
        chunked = await client.post("/", content=Chunks(LIMIT))
        empty = await client.get("/")
    assert [r.json()["size"] for r in (exact, chunked, empty)] == [LIMIT, LIMIT, 0]
