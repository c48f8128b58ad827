"""The one way Continuum waits and retries: which failures are transient, and backoff.

:class:`Backoff` is the delay schedule (first wait, doubling, capped); loops that own
their waiting (a consumer that must also wake up on stop) count failures and ask it for
the next delay. :func:`retrying` is the common case built on it: await a call until it
succeeds, a non-retryable error, or the attempts or time run out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import monotonic
from typing import TypeVar

T = TypeVar("T")
logger = logging.getLogger("continuum.runtime.retry")


class TransientError(Exception):
    """A failure that may go away by itself (storage or a peer briefly unavailable).

    A consumed message is redelivered (with backoff) instead of being dead-lettered.
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


def any_error(_error: BaseException) -> bool:
    """Retry whatever failed (for start-up connections, where every error may be the peer's)."""
    return True


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``first_seconds``, then doubling, never above ``max_seconds``."""

    first_seconds: float = 0.5
    max_seconds: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1 waits ``first``)."""
        if failures < 1:
            return 0.0
        # Capping the exponent keeps a long outage from overflowing the float.
        return float(min(self.first_seconds * 2 ** min(failures - 1, 64), self.max_seconds))


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    backoff: Backoff | None = None,
    attempts: int | None = None,
    within_seconds: float | None = None,
    retryable: Callable[[BaseException], bool] = is_transient,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> T:
    """Await ``call()``, retrying ``retryable`` failures with ``backoff`` between tries.

    For peers (registry, broker, store) that may be briefly unavailable. Without
    ``attempts`` or ``within_seconds`` it retries until it succeeds (or the task is
    cancelled); otherwise the last retryable error is raised once ``attempts`` tries were
    made or the next wait would end after ``within_seconds``. Other errors raise at once.
    """
    backoff = backoff or Backoff()
    deadline = None if within_seconds is None else monotonic() + within_seconds
    failures = 0
    while True:
        try:
            return await call()
        except Exception as exc:
            failures += 1
            wait = backoff.delay(failures)
            out_of_tries = attempts is not None and failures >= attempts
            out_of_time = deadline is not None and monotonic() + wait > deadline
            if not retryable(exc) or out_of_tries or out_of_time:
                raise
            logger.warning("%s failed (%s); retrying in %.1fs", what, exc, wait)
            await sleep(wait)
