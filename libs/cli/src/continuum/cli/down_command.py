"""``continuum down``: stop what ``continuum up`` or ``continuum demo --keep-running`` left."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

from continuum.cli.output import err, out
from continuum.localkafka import LocalKafka, LocalKafkaError


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down(
    home: Annotated[Path, typer.Option(help="The home the stack runs from.")] = Path(".continuum"),
    keep_kafka: Annotated[bool, typer.Option(help="Leave Kafka running.")] = False,
) -> None:
    """Stop the services (SIGTERM, then SIGKILL after 20 s) and, unless told not to, Kafka."""
    state = home / "stack.json"
    services = json.loads(state.read_text()) if state.exists() else {}
    for name, info in services.items():
        pid = int(info["pid"])
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            out.print(f"stopping {name} (pid {pid})", highlight=False)
    deadline = time.monotonic() + 20
    for info in services.values():
        pid = int(info["pid"])
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    state.unlink(missing_ok=True)
    if not keep_kafka and (home / "kafka").exists():
        try:
            LocalKafka(home / "kafka", console=err).stop()
            out.print("Kafka stopped", highlight=False)
        except LocalKafkaError as exc:
            err.print(f"[red]{exc}[/red]")
