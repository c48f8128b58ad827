"""When each pipeline last fired ``DriftDetected``, kept on disk so a restart honours it.

The policy is "at most one drift event per ``cooldown_seconds`` per pipeline", whatever
the model version: a promotion does not reset it, so a retrain whose model drifts again
at once cannot start a retrain storm. A version that keeps drifting fires again once the
cooldown has passed, which is how a retrain that was rejected or failed gets another try.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

logger = logging.getLogger(__name__)

STATE_FILE = "monitor-drift-cooldown.json"


@dataclass(frozen=True)
class LastFired:
    """The last drift event a pipeline fired."""

    at: datetime
    model_version: int
    event_id: str


class CooldownStore:
    """Last-fired times per pipeline in a small JSON file, replaced atomically on each write."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_FILE
        self._last: dict[str, LastFired] = self._load()

    def _load(self) -> dict[str, LastFired]:
        try:
            raw = json.loads(self.path.read_text())
            return {
                name: LastFired(
                    at=datetime.fromisoformat(entry["at"]),
                    model_version=int(entry["model_version"]),
                    event_id=str(entry["event_id"]),
                )
                for name, entry in raw.items()
            }
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A damaged file must not keep the monitor down; the worst case is one extra event.
            logger.error("ignoring unreadable cooldown state %s: %s", self.path, exc)
            return {}

    def last_fired(self, pipeline: str) -> LastFired | None:
        """When ``pipeline`` last fired, if ever."""
        return self._last.get(pipeline)

    def allows(self, pipeline: str, now: datetime, cooldown_seconds: float) -> bool:
        """Whether a drift event for ``pipeline`` may fire at ``now``."""
        last = self._last.get(pipeline)
        return last is None or now - last.at >= timedelta(seconds=cooldown_seconds)

    def record(self, pipeline: str, fired: LastFired) -> None:
        """Remember a fired event durably (write, fsync, atomic rename, fsync the folder)."""
        self._last[pipeline] = fired
        self._write()

    def _write(self) -> None:
        payload = {
            name: {"at": f.at.isoformat(), "model_version": f.model_version, "event_id": f.event_id}
            for name, f in sorted(self._last.items())
        }
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w") as tmp:
                json.dump(payload, tmp, indent=2, sort_keys=True)
                tmp.flush()
                os.fsync(tmp.fileno())
            Path(tmp_name).replace(self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
