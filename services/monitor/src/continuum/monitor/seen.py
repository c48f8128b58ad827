"""A bounded memory of handled event ids: redelivered events are recognised and skipped."""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID


class SeenEvents:
    """The last ``capacity`` event ids handled (LRU)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[UUID, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, event_id: UUID) -> None:
        """Remember ``event_id`` as handled."""
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
