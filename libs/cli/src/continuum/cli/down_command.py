"""``continuum down``: stop what ``continuum up`` or ``continuum demo --keep-running`` left."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer


def _terminate(pids: dict[str, int], deadline: float) -> None:
    """SIGTERM each, wait until ``deadline``, then SIGKILL what still runs."""
    from continuum.cli.output import out
    from continuum.cli.stack_file import pid_alive

    for name, pid in pids.items():
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            out.print(f"stopping {name} (pid {pid})", highlight=False)
    for pid in pids.values():
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def down(
    home: Annotated[Path, typer.Option(help="The home the stack runs from.")] = Path(".continuum"),
    keep_kafka: Annotated[bool, typer.Option(help="Leave Kafka running.")] = False,
) -> None:
    """Stop `continuum up` and its services (SIGTERM, then SIGKILL after 20 s) and, unless
    told not to, Kafka. A running `up` ends quietly ("stopped by continuum down")."""
    from continuum.cli.output import err, out
    from continuum.cli.stack_file import (
        STACK_FILE,
        STOP_MARKER,
        is_up_process,
        pid_alive,
        read_record,
    )
    from continuum.localkafka import LocalKafka, LocalKafkaError

    record = read_record(home)
    owner = record.owner_pid
    if owner is not None and (owner == os.getpid() or not is_up_process(owner)):
        owner = None
    if owner is not None:
        # The marker tells `up` who stopped it; SIGTERM first, so it starts nothing more.
        (home / STOP_MARKER).write_text(str(os.getpid()))
        os.kill(owner, signal.SIGTERM)
        out.print(f"stopping continuum up (pid {owner})", highlight=False)
    deadline = time.monotonic() + 20
    _terminate({name: s.pid for name, s in record.services.items()}, deadline)
    if owner is not None:
        while pid_alive(owner) and time.monotonic() < deadline + 10:
            time.sleep(0.2)
        # A service `up` started after the file was read above.
        late = read_record(home).services
        _terminate({n: s.pid for n, s in late.items()}, time.monotonic() + 20)
    (home / STACK_FILE).unlink(missing_ok=True)
    (home / STOP_MARKER).unlink(missing_ok=True)
    if not keep_kafka and (home / "kafka").exists():
        try:
            LocalKafka(home / "kafka", console=err).stop()
            out.print("Kafka stopped", highlight=False)
        except LocalKafkaError as exc:
            err.print(f"[red]{exc}[/red]")
