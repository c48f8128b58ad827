"""An asyncio face for any online store: each call runs in a worker thread."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from continuum.featurestore.base import FeatureRow, OnlineStore


class AsyncOnlineStore:
    """Wraps a blocking :class:`OnlineStore` so an event loop never waits on its I/O."""

    def __init__(self, store: OnlineStore) -> None:
        self.store = store

    async def write(self, view: str, rows: Sequence[FeatureRow]) -> None:
        """:meth:`OnlineStore.write` in a thread."""
        await asyncio.to_thread(self.store.write, view, rows)

    async def read(self, view: str, entities: Sequence[str]) -> dict[str, FeatureRow]:
        """:meth:`OnlineStore.read` in a thread."""
        return await asyncio.to_thread(self.store.read, view, entities)

    async def close(self) -> None:
        """:meth:`OnlineStore.close` in a thread."""
        await asyncio.to_thread(self.store.close)
