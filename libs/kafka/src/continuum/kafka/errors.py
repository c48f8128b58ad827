"""How a handler says whether a failure is worth retrying."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
logger = logging.getLogger("continuum.kafka.retry")


class TransientError(Exception):
    """A failure that may go away by itself (storage or a peer briefly unavailable).

    The message is redelivered (with backoff) instead of being dead-lettered.
    """


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientError, ConnectionError, TimeoutError)
"""Exception types retried rather than dead-lettered."""


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or the error that caused it) is worth redelivering."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int | None = None,
    first_wait: float = 0.5,
    max_wait: float = 30.0,
    retryable: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Await ``call()``, retrying ``retryable`` failures with exponential backoff.

    For peers (registry, broker, store) that may be briefly unavailable. ``attempts=None``
    retries until it succeeds (or the task is cancelled); otherwise the last retryable
    error is raised after ``attempts`` tries. Other errors raise at once.
    """
    wait = first_wait
    tried = 0
    while True:
        tried += 1
        try:
            return await call()
        except Exception as exc:
            if not retryable(exc) or (attempts is not None and tried >= attempts):
                raise
            logger.warning("%s failed (%s); retrying in %.1fs", what, exc, wait)
            await asyncio.sleep(wait)
            wait = min(wait * 2, max_wait)
