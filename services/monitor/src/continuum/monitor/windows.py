"""The window of logged predictions the monitor evaluates for drift, one per pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class WindowRow:
    """One logged prediction of the champion."""

    features: dict[str, Any]
    prediction: Any
    at: datetime
    """Event time when the prediction carried one, else when it was logged."""


@dataclass(frozen=True)
class FullWindow:
    """A window that reached its size, taken out for evaluation."""

    model_version: int
    rows: tuple[WindowRow, ...]

    @property
    def start(self) -> datetime:
        """Earliest row time."""
        return min(r.at for r in self.rows)

    @property
    def end(self) -> datetime:
        """Latest row time."""
        return max(r.at for r in self.rows)


@dataclass
class PredictionWindow:
    """Accumulates the champion's predictions until ``size`` rows, then hands them over.

    Kept in memory only: a restart loses at most one partial window, which is acceptable
    because logged predictions are a sample of traffic anyway.
    """

    model_version: int
    size: int
    rows: list[WindowRow] = field(default_factory=list)

    @property
    def fill_ratio(self) -> float:
        """How full the window is, 0..1."""
        return min(1.0, len(self.rows) / self.size)

    def add(self, row: WindowRow) -> FullWindow | None:
        """Add a row; when the window is full, return it and start an empty one."""
        self.rows.append(row)
        if len(self.rows) < self.size:
            return None
        return self.take()

    def take(self) -> FullWindow | None:
        """The window's rows if it is full (or over-full after its size shrank), and reset."""
        if len(self.rows) < self.size:
            return None
        full = FullWindow(model_version=self.model_version, rows=tuple(self.rows[: self.size]))
        del self.rows[: self.size]
        return full
