"""Serving's body cap: a 50 MB prediction request gets 413 naming the setting, unread.

The middleware itself is tested in ``libs/runtime/tests/test_body_limit.py``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from serving_testkit import make_record, new_store, registry_with_champion, running

FIFTY_MB = 50 * 1024 * 1024
CHUNK = 64 * 1024
LIMIT = 1 << 20


class Chunks:
    """A request body of ``total`` bytes, counting how many chunks were pulled from it."""

    def __init__(self, total: int) -> None:
        self.total, self.pulled = total, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.total // CHUNK):
            self.pulled += 1
            yield b" " * CHUNK


async def test_serving_refuses_a_50_mb_prediction_request() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        for headers in ({"content-length": str(FIFTY_MB)}, {}):
            body = Chunks(FIFTY_MB)
            response = await world.client.post(
                "/v1/pipelines/flights/predict", content=body, headers=headers
            )
            assert response.status_code == 413, response.text
            assert response.json() == {
                "detail": "request body exceeds 1 MiB (CONTINUUM_SERVING_MAX_BODY_BYTES)"
            }
            assert body.pulled <= LIMIT // CHUNK + 1
        # Under the limit, the same route still answers.
        ok = await world.predict([make_record()])
        assert ok.status_code == 200, ok.text


async def test_the_limit_is_a_setting() -> None:
    store = new_store()
    records = {"records": [make_record() for _ in range(20)]}
    size = len(json.dumps(records))
    async with running(registry_with_champion(store), store, max_body_bytes=2048) as world:
        assert size > 2048
        response = await world.client.post("/v1/pipelines/flights/predict", json=records)
    assert response.status_code == 413
    assert "exceeds 2 KiB" in response.json()["detail"]
