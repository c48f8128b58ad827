"""How a handler says whether a failure is worth retrying."""

from __future__ import annotations


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
