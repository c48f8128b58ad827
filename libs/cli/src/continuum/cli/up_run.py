"""What ``continuum up`` does: check ports, start Kafka and the services with progress,
clean up after a failure, then watch until Ctrl-C or ``continuum down``."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text

from continuum.cli.output import err, out
from continuum.cli.ports import PortError, PortPlan, plan_ports
from continuum.cli.stack import SERVICES, LocalStack, StackError, StackStoppedError, StartProgress
from continuum.cli.stack_file import (
    STACK_FILE,
    STOP_MARKER,
    StackRecord,
    pid_alive,
    read_record,
    write_record,
)
from continuum.cli.topics_setup import ensure_topics
from continuum.localkafka import LocalKafka, LocalKafkaError, RunningKafka


@dataclass(frozen=True)
class UpRequest:
    """The options of one ``continuum up``."""

    home: Path
    base_port: int | None
    chosen_ports: Mapping[str, int | None]
    kafka_port: int | None
    timeout: float


class _Clock:
    """Progress lines on stderr, each with the seconds since ``up`` began."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    def say(self, message: str) -> None:
        err.print(Text(f"[{time.monotonic() - self.began:5.1f}s] {message}", style="dim"))

    def service(self, step: StartProgress) -> None:
        if step.stage == "starting":
            self.say(f"{step.service:<9} starting on port {step.port} (pid {step.pid})")
        elif step.stage == "waiting":
            self.say(f"{step.service:<9} waiting for /health ({step.seconds:.0f}s so far)")
        else:
            self.say(f"{step.service:<9} healthy after {step.seconds:.1f}s")


def _already_running(home: Path) -> str | None:
    record = read_record(home)
    pids = [s.pid for s in record.services.values() if pid_alive(s.pid)]
    if record.owner_pid and record.owner_pid != os.getpid() and pid_alive(record.owner_pid):
        pids.insert(0, record.owner_pid)
    if not pids:
        return None
    return (
        f"a stack already runs from {home} (pids {', '.join(map(str, pids))}); stop it "
        f"with: continuum down --home {home}, or use another --home for a second stack"
    )


def _describe_ports(plan: PortPlan) -> str:
    ports = ", ".join(f"{name} {port}" for name, port in plan.ports.items())
    if plan.picked:
        ports += f" (free ports picked for {', '.join(plan.picked)})"
    return ports


def _fail(message: str) -> int:
    err.print(Text(f"error: {message}", style="bold red"))
    return 1


def run_up(request: UpRequest) -> int:
    """Run ``continuum up`` to the end; returns the exit code."""
    home = request.home
    if problem := _already_running(home):
        return _fail(problem)
    try:
        plan = plan_ports(request.base_port, request.chosen_ports)
    except PortError as exc:
        return _fail(str(exc))
    (home / STOP_MARKER).unlink(missing_ok=True)  # left by a `down` with no `up` to stop
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return _run(request, plan, stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
        (home / STOP_MARKER).unlink(missing_ok=True)


def _stopped_by(home: Path) -> str:
    return "continuum down" if (home / STOP_MARKER).exists() else "SIGTERM"


def _start_kafka(request: UpRequest, clock: _Clock) -> RunningKafka:
    port = request.kafka_port
    if port is None and request.base_port == 0:
        port = 0
    clock.say(f"Kafka     starting from {request.home / 'kafka'}")
    kafka = LocalKafka(request.home / "kafka", console=err).start(port)
    state = "was already running" if kafka.already_running else "ready"
    clock.say(f"Kafka     {state} at {kafka.bootstrap_servers}")
    return kafka


def _run(request: UpRequest, plan: PortPlan, stop: threading.Event) -> int:
    home, clock = request.home, _Clock()
    clock.say(f"ports: {_describe_ports(plan)}")
    # Recorded before anything starts, so `down` can find (and stop) this process.
    write_record(home, StackRecord(owner_pid=os.getpid()))
    kafka: RunningKafka | None = None
    stack: LocalStack | None = None
    try:
        kafka = _start_kafka(request, clock)
        asyncio.run(ensure_topics(kafka.bootstrap_servers))
        stack = LocalStack(
            home,
            kafka.bootstrap_servers,
            ports=plan.ports,
            report=clock.service,
            should_stop=stop.is_set,
            owner_pid=os.getpid(),
        )
        stack.start(timeout=request.timeout)
    except StackStoppedError:
        err.print(f"stopped by {_stopped_by(home)} while starting", highlight=False)
        return 0
    except BaseException as exc:
        # Kafka started here goes too (one already running before `up` stays).
        if kafka is not None and not kafka.already_running:
            kafka.stop()
        (home / STACK_FILE).unlink(missing_ok=True)
        if isinstance(exc, LocalKafkaError | StackError):
            return _fail(f"{exc}\nEverything this command started has been stopped.")
        raise
    _print_where(home, kafka, stack)
    return _watch(home, stack, stop)


def _print_where(home: Path, kafka: RunningKafka, stack: LocalStack) -> None:
    out.print(f"Kafka      {kafka.bootstrap_servers}", highlight=False)
    for name in SERVICES:
        log = stack.running[name].log_path
        out.print(f"{name:<10} {stack.url(name)}   log {log}", highlight=False)
    out.print(f"registry token in {home / 'registry-token'}", highlight=False)
    out.print(
        "apply a pipeline: ./continuum pipelines apply examples/pipelines/flights.yaml "
        f"--registry {stack.url('registry')} --home {home}",
        highlight=False,
    )
    out.print(
        f"Ctrl-C stops the services (Kafka keeps running); continuum down --home {home} "
        "stops everything.",
        highlight=False,
    )


def _watch(home: Path, stack: LocalStack, stop: threading.Event) -> int:
    code = 0
    try:
        while not stop.wait(2):
            dead = [s.name for s in stack.running.values() if not s.alive()]
            if dead and not (home / STOP_MARKER).exists():
                err.print(
                    Text(f"stopped unexpectedly: {', '.join(dead)}", style="red"),
                    f"(see logs in {home / 'logs'})",
                )
                code = 1
                break
            if dead:
                break  # `down` is stopping the services: its SIGTERM to us is on its way
    except KeyboardInterrupt:
        err.print("stopping the services (Ctrl-C); Kafka keeps running", highlight=False)
    finally:
        stack.stop()
        (home / STACK_FILE).unlink(missing_ok=True)
    if stop.is_set() or (home / STOP_MARKER).exists():
        err.print(f"stopped by {_stopped_by(home)}", highlight=False)
    return code
