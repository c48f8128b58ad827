"""One line per interval for a log message that repeats: ``RepeatLimit``.

A broker outage makes aiokafka log the same "Unable connect to node" error many times a
second from every client (35,577 lines in 30 s across five services). The first record of
a kind (same logger, same level, same message template) is written; its repeats within
``interval_seconds`` are counted, not written; the first one after the interval is
written with the count: ``... (repeated 1,234 times in 10 s)``.

Records below ``min_level`` (WARNING by default) always pass: an ordinary INFO line that
recurs on purpose ("batch written ...") is never thinned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_INTERVAL_SECONDS = 10.0
MAX_KINDS = 1024
"""Kinds remembered at most; a message built by formatting (not a template) is a new kind
each time, and must not grow this without bound."""


@dataclass
class _Kind:
    shown_at: float
    suppressed: int = 0


class RepeatLimit(logging.Filter):
    """A logging filter passing one record per kind and interval, counting the rest.

    Install it on handlers (:func:`limit_repeats`), not loggers: a logger's filters do not
    see what its child loggers (``aiokafka.conn`` under ``aiokafka``) propagate.
    """

    def __init__(
        self,
        interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
        *,
        min_level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval_seconds = interval_seconds
        self.min_level = min_level
        self.clock = clock
        self._kinds: OrderedDict[tuple[str, int, str], _Kind] = OrderedDict()
        # Handlers call filters outside their own lock, and threads log too.
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether to write ``record``; a record written after repeats names their count."""
        if record.levelno < self.min_level:
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        with self._lock:
            kind = self._kinds.get(key)
            if kind is None:
                self._kinds[key] = _Kind(shown_at=now)
                if len(self._kinds) > MAX_KINDS:
                    self._kinds.popitem(last=False)
                return True
            elapsed = now - kind.shown_at
            if elapsed < self.interval_seconds:
                kind.suppressed += 1
                return False
            suppressed, kind.shown_at, kind.suppressed = kind.suppressed, now, 0
            self._kinds.move_to_end(key)
        if suppressed:
            # Formatted here, once: every handler after this filter sees the same line.
            record.msg = f"{record.getMessage()} (repeated {suppressed:,} times in {elapsed:.0f} s)"
            record.args = None
        return True


def limit_repeats(
    logger: logging.Logger | None = None, interval_seconds: float = DEFAULT_INTERVAL_SECONDS
) -> RepeatLimit:
    """Add one :class:`RepeatLimit` to every handler of ``logger`` (the root logger by
    default) that has none yet; returns the filter in place."""
    logger = logger or logging.getLogger()
    existing = [
        f for handler in logger.handlers for f in handler.filters if isinstance(f, RepeatLimit)
    ]
    limit = existing[0] if existing else RepeatLimit(interval_seconds)
    for handler in logger.handlers:
        if limit not in handler.filters:
            handler.addFilter(limit)
    return limit
