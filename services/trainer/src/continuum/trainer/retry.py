"""Retrying calls to peers (registry, broker) that may be briefly unavailable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from continuum.kafka import is_transient

T = TypeVar("T")
logger = logging.getLogger("continuum.trainer")


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int | None = None,
    first_wait: float = 0.5,
    max_wait: float = 30.0,
) -> T:
    """Await ``call()``, retrying transient failures with exponential backoff.

    ``attempts=None`` retries until it succeeds (or the task is cancelled); otherwise the
    last transient error is raised after ``attempts`` tries. Other errors raise at once.
    """
    wait = first_wait
    tried = 0
    while True:
        tried += 1
        try:
            return await call()
        except Exception as exc:
            if not is_transient(exc) or (attempts is not None and tried >= attempts):
                raise
            logger.warning("%s failed (%s); retrying in %.1fs", what, exc, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, max_wait)
