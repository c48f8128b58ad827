"""``<home>/stack.json``: what ``continuum up`` (or a kept demo) runs, for ``continuum down``.

It is rewritten as each service process starts and stops, so ``down`` can always stop
what is running, even while ``up`` is still starting or after ``up`` itself was killed.
``owner_pid`` is the ``up`` process; ``down`` asks it to stop first and leaves
``stack.stopping`` beside the file so ``up`` knows who stopped it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STACK_FILE = "stack.json"
STOP_MARKER = "stack.stopping"


@dataclass(frozen=True)
class ServiceEntry:
    """One service process as recorded."""

    pid: int
    port: int
    log: str


@dataclass
class StackRecord:
    """The stack file's content."""

    services: dict[str, ServiceEntry] = field(default_factory=dict)
    owner_pid: int | None = None
    kafka: str | None = None


def write_record(home: Path, record: StackRecord) -> None:
    """Replace the stack file atomically (``down`` may read it at any moment)."""
    home.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "owner_pid": record.owner_pid,
        "kafka": record.kafka,
        "services": {
            name: {"pid": s.pid, "port": s.port, "log": s.log}
            for name, s in record.services.items()
        },
    }
    tmp = home / f".{STACK_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(body, indent=2))
    tmp.replace(home / STACK_FILE)


def read_record(home: Path) -> StackRecord:
    """The stack file's content (empty when there is none)."""
    path = home / STACK_FILE
    if not path.exists():
        return StackRecord()
    data = json.loads(path.read_text())
    # Before the owner was recorded the file was the services mapping itself.
    services = data["services"] if "owner_pid" in data else data
    return StackRecord(
        services={
            name: ServiceEntry(int(s["pid"]), int(s["port"]), str(s.get("log", "")))
            for name, s in services.items()
        },
        owner_pid=data.get("owner_pid"),
        kafka=data.get("kafka"),
    )


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie we could reap)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def is_up_process(pid: int) -> bool:
    """Whether ``pid`` runs ``continuum up`` (a recorded pid may since belong to another
    program; that one must not be signalled)."""
    if not pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc here: trust the record
    return b"up" in argv and any(b"continuum" in arg for arg in argv)
