"""Reading the tail of the broker's logs for error messages."""

from __future__ import annotations

import collections
from pathlib import Path


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in collections.deque(handle, maxlen=lines)]
    except FileNotFoundError:
        return []


def log_tail(logs_dir: Path, lines: int = 40) -> str:
    """Return the last ``lines`` of ``server.log`` and of ``kafka.out`` (JVM stdout/stderr).

    ``kafka.out`` matters when the JVM dies before log4j is up (bad flags, missing class).
    """
    parts: list[str] = []
    server = _tail(logs_dir / "server.log", lines)
    if server:
        parts.append(f"[{logs_dir / 'server.log'}]")
        parts.extend(server)
    out = [line for line in _tail(logs_dir / "kafka.out", lines) if line.strip()]
    # kafka.out holds only our launch headers when the JVM printed nothing itself.
    if any(not line.startswith("=== ") for line in out):
        parts.append(f"[{logs_dir / 'kafka.out'}]")
        parts.extend(out)
    return "\n".join(parts) if parts else f"(no log output in {logs_dir})"
