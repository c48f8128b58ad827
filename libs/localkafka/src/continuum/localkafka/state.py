"""The per-data-dir state file, process checks and free ports.

The state file (JSON) remembers what must survive restarts of one data dir: the cluster
id and the controller port (KRaft's standalone voter set records the controller endpoint,
so a different port after a restart would leave the node unable to find its own quorum),
plus the broker port and the pid of the running broker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "localkafka.json"


@dataclass
class KafkaState:
    """What one data dir remembers between starts."""

    cluster_id: str
    controller_port: int
    port: int | None = None
    pid: int | None = None
    version: str | None = None
    started_at: float | None = None


def load_state(data_dir: Path) -> KafkaState | None:
    """Return the saved state of ``data_dir``, or ``None`` if it has never been started."""
    path = data_dir / STATE_FILE
    try:
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    fields = {f.name for f in dataclasses.fields(KafkaState)}
    return KafkaState(**{k: v for k, v in raw.items() if k in fields})


def save_state(data_dir: Path, state: KafkaState) -> None:
    """Write the state atomically (write + rename) so a crash never leaves half a file."""
    path = data_dir / STATE_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(state), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def pick_free_port(host: str) -> int:
    """Return a port that is free right now (the OS picks; there is a small race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """Return whether ``host:port`` can be bound (Kafka sets SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """Return whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def process_alive(pid: int) -> bool:
    """Return whether ``pid`` is a live (not zombie) process; reaps it if it is our child."""
    # A child we started and that has exited stays a zombie until reaped; reap it here
    # so that "kill -0" below does not report a dead broker as alive.
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        # Field 3 is the state; "Z" is a zombie of a parent that is not us.
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_broker_process(pid: int, config_path: Path) -> bool:
    """Return whether ``pid`` is a live broker started with ``config_path``.

    Guards against pid reuse: after a reboot the saved pid may belong to anything.
    Where ``/proc`` is unavailable we can only trust that the pid is alive.
    """
    if not process_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        args = cmdline.read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return b"kafka.Kafka" in args and str(config_path).encode() in args
