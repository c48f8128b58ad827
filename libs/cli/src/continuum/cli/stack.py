"""Runs the five services as separate local processes (``continuum up`` and the demo).

Each service is ``python -m continuum.<service>`` with its own port, state folder and log
file under the Continuum home (``.continuum/`` by default); they share only Kafka, the
offline store, the artifact store and the registry's HTTP API, as in production.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from continuum.cli.health_probe import HealthState, probe_health
from continuum.cli.ports import DEFAULT_PORTS
from continuum.cli.stack_file import ServiceEntry, StackRecord, write_record

if TYPE_CHECKING:
    from continuum.contracts import EventKeyring

__all__ = ["DEFAULT_PORTS", "SERVICES", "LocalStack", "ServiceProcess", "StackError"]

SERVICES: tuple[str, ...] = ("registry", "ingest", "trainer", "serving", "monitor")
"""Start order: the registry first, since every other service reads specs from it."""


class StackError(RuntimeError):
    """A service did not start or died; the message carries its log tail."""


class StackStoppedError(StackError):
    """Starting was interrupted on request (``continuum down`` or SIGTERM)."""


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (empty if there is none)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _home_secret(path: Path) -> str:
    """A random secret kept in ``path``, made on first use and private (0600)."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


def registry_token(home: Path) -> str:
    """The registry's bearer token for this home, made once and kept private (0600)."""
    return _home_secret(home / "registry-token")


def event_key_file(home: Path) -> Path:
    """The file holding this home's event key (made once, 0600): every service of the
    stack signs its events with it and refuses events it did not sign."""
    path = home / "event-key"
    _home_secret(path)
    return path


EVENT_KEY_VARIABLES = (
    "CONTINUUM_KAFKA_EVENT_KEY",
    "CONTINUUM_KAFKA_EVENT_KEY_FILE",
    "CONTINUUM_KAFKA_EVENT_KEYS_PREVIOUS",
)
"""Not inherited by the stack's services: they use the home's key, whatever the shell says."""


def service_command(name: str) -> list[str]:
    """How a service process is started: this interpreter, ``-m continuum.<name>``."""
    return [sys.executable, "-m", f"continuum.{name}"]


@dataclass(frozen=True)
class StartProgress:
    """One step of starting a service, for progress output."""

    service: str
    stage: str  # "starting" (process launched), "waiting" (no healthy answer yet), "healthy"
    seconds: float
    pid: int
    port: int


@dataclass
class ServiceProcess:
    """One running service."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL of its HTTP endpoints."""
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None


@dataclass
class LocalStack:
    """The services of one Continuum home, started against one Kafka.

    ``report`` hears each start step (``waiting`` every ``report_every`` seconds);
    ``should_stop`` is asked while starting, to give up early when told to stop.
    """

    home: Path
    bootstrap_servers: str
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: Mapping[str, str] = field(default_factory=dict)
    running: dict[str, ServiceProcess] = field(default_factory=dict)
    command: Callable[[str], list[str]] = service_command
    report: Callable[[StartProgress], None] | None = None
    report_every: float = 10.0
    should_stop: Callable[[], bool] = lambda: False
    owner_pid: int | None = None

    @property
    def token(self) -> str:
        """Bearer token for the registry's write API."""
        return registry_token(self.home)

    @property
    def event_keyring(self) -> EventKeyring:
        """The home's event key, for whoever publishes internal events into this stack."""
        # Imported here: `continuum --help` loads no contracts (pydantic).
        from continuum.contracts import EventKeyring

        return EventKeyring.of([event_key_file(self.home).read_text().strip()])

    def url(self, service: str) -> str:
        """Base URL of a service."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def environment(self, service: str) -> dict[str, str]:
        """The environment ``service`` runs with (what docker-compose sets too)."""
        state = self.home / "state" / service
        state.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if k not in EVENT_KEY_VARIABLES}
        return {
            **inherited,
            "PYTHONUNBUFFERED": "1",
            "CONTINUUM_SERVICE_NAME": service,
            "CONTINUUM_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "CONTINUUM_HTTP_HOST": "127.0.0.1",
            "CONTINUUM_HTTP_PORT": str(self.ports[service]),
            "CONTINUUM_REGISTRY_URL": self.url("registry"),
            "CONTINUUM_REGISTRY_TOKEN": self.token,
            "CONTINUUM_KAFKA_EVENT_KEY_FILE": str(event_key_file(self.home).resolve()),
            "CONTINUUM_DATA_ROOT": (self.home / "data").resolve().as_uri(),
            "CONTINUUM_ARTIFACT_ROOT": (self.home / "artifacts").resolve().as_uri(),
            "CONTINUUM_STATE_DIR": str(state.resolve()),
            # One online feature store for the stack: ingest writes it, serving reads it.
            "CONTINUUM_ONLINE_STORE_URI": f"sqlite:///{(self.home / 'state').resolve()}/online.db",
            **self.extra_env,
        }

    def start(self, services: Iterable[str] = SERVICES, timeout: float = 90.0) -> None:
        """Start services in order, each healthy before the next.

        Raises :class:`StackError` (:class:`StackStoppedError` when told to stop) after
        stopping every service this stack started: a failed start leaves nothing behind.
        """
        try:
            for name in services:
                if self.should_stop():
                    raise StackStoppedError("stopped while starting")
                self.start_one(name, timeout=timeout)
        except BaseException:
            self.stop()
            raise

    def start_one(self, name: str, timeout: float = 90.0) -> ServiceProcess:
        """Start one service, record it in the stack file, and wait until it is healthy."""
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                self.command(name),
                env=self.environment(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = ServiceProcess(name, self.ports[name], process, log_path)
        self.running[name] = service
        self.write_state()
        self._report(service, "starting", 0.0)
        self.wait_healthy(service, timeout)
        return service

    def wait_healthy(self, service: ServiceProcess, timeout: float) -> None:
        """Poll ``/health`` until the service itself says ok; raise :class:`StackError`
        with the log tail if the process dies, and at once if another program answers."""
        began = time.monotonic()
        next_report = began + self.report_every
        while (now := time.monotonic()) < began + timeout:
            if not service.alive():
                raise StackError(
                    f"{service.name} exited with code {service.process.returncode}:\n"
                    + log_tail(service.log_path)
                )
            if self.should_stop():
                raise StackStoppedError(f"stopped while {service.name} was starting")
            probe = probe_health(service.url, service.name)
            if probe.state is HealthState.HEALTHY:
                self._report(service, "healthy", now - began)
                return
            if probe.state is HealthState.FOREIGN:
                raise StackError(
                    f"port {service.port} answers /health, but not as {service.name} "
                    f"({probe.detail}): another program holds the port"
                )
            if now >= next_report:
                self._report(service, "waiting", now - began)
                next_report = now + self.report_every
            time.sleep(0.25)
        raise StackError(
            f"{service.name} not healthy after {timeout:.0f}s:\n" + log_tail(service.log_path)
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a service (SIGKILL by default: no shutdown hooks run)."""
        service = self.running.pop(name)
        service.process.send_signal(sig)
        service.process.wait(timeout=30)
        self.write_state()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every service (reverse start order): SIGTERM, then SIGKILL if needed."""
        for name in reversed(list(self.running)):
            service = self.running[name]
            if service.alive():
                service.process.terminate()
                try:
                    service.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    service.process.kill()
                    service.process.wait()
            del self.running[name]
            self.write_state()

    def write_state(self) -> None:
        """Record the running services in ``<home>/stack.json`` (read by ``continuum down``)."""
        write_record(
            self.home,
            StackRecord(
                services={
                    name: ServiceEntry(s.process.pid, s.port, str(s.log_path))
                    for name, s in self.running.items()
                },
                owner_pid=self.owner_pid,
                kafka=self.bootstrap_servers,
            ),
        )

    def _report(self, service: ServiceProcess, stage: str, seconds: float) -> None:
        if self.report is not None:
            self.report(
                StartProgress(service.name, stage, seconds, service.process.pid, service.port)
            )
