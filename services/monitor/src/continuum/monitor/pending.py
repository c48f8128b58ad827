"""Events the monitor decided on but Kafka has not accepted yet.

A drift decision and a live-quality measurement are both computed once, from state that
is gone afterwards (the full window). So the event waits here until Kafka accepts it, and
the handler that next touches the pipeline publishes it before anything else, raising a
transient error (the message is redelivered) while Kafka still refuses.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from continuum.contracts import Event
from continuum.runtime import TransientError

Publish = Callable[[Event], Awaitable[None]]
"""Publishes one event (the monitor's Kafka publisher, or a test's stand-in)."""

E = TypeVar("E", bound=Event)


class PendingEvents(Generic[E]):
    """Events of one kind for one pipeline, published in the order they were added."""

    def __init__(self) -> None:
        self._events: deque[E] = deque()

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: E) -> None:
        """Queue ``event``; it is published by the next :meth:`flush`."""
        self._events.append(event)

    def clear(self) -> None:
        """Drop every pending event (one that no longer applies, e.g. an old model's drift)."""
        self._events.clear()

    async def flush(
        self, publish: Callable[[E], Awaitable[None]], on_sent: Callable[[E], None]
    ) -> None:
        """Publish every pending event in order; ``on_sent`` runs once Kafka accepted one.

        An event leaves the queue only after ``publish`` returned, so a refused one (and
        every one after it) stays for the next flush.

        Raises:
            TransientError: Kafka refused an event.
        """
        while self._events:
            event = self._events[0]
            try:
                await publish(event)
            except Exception as exc:
                raise TransientError(f"could not publish {type(event).__name__}: {exc}") from exc
            self._events.popleft()
            on_sent(event)
