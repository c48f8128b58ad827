"""Runs the five services as separate local processes (``continuum up`` and the demo).

Each service is ``python -m continuum.<service>`` with its own port, state folder and log
file under the Continuum home (``.continuum/`` by default); they share only Kafka, the
offline store, the artifact store and the registry's HTTP API, as in production.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVICES: tuple[str, ...] = ("registry", "ingest", "trainer", "serving", "monitor")
"""Start order: the registry first, since every other service reads specs from it."""

DEFAULT_PORTS: dict[str, int] = {
    "registry": 8100,
    "serving": 8101,
    "ingest": 8102,
    "trainer": 8103,
    "monitor": 8104,
}


class StackError(RuntimeError):
    """A service did not start or died; the message carries its log tail."""


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (empty if there is none)."""
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def registry_token(home: Path) -> str:
    """The registry's bearer token for this home, made once and kept private (0600)."""
    path = home / "registry-token"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return token


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
    """The services of one Continuum home, started against one Kafka."""

    home: Path
    bootstrap_servers: str
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: Mapping[str, str] = field(default_factory=dict)
    running: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def token(self) -> str:
        """Bearer token for the registry's write API."""
        return registry_token(self.home)

    def url(self, service: str) -> str:
        """Base URL of a service."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def environment(self, service: str) -> dict[str, str]:
        """The environment ``service`` runs with (what docker-compose sets too)."""
        state = self.home / "state" / service
        state.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "CONTINUUM_SERVICE_NAME": service,
            "CONTINUUM_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "CONTINUUM_HTTP_HOST": "127.0.0.1",
            "CONTINUUM_HTTP_PORT": str(self.ports[service]),
            "CONTINUUM_REGISTRY_URL": self.url("registry"),
            "CONTINUUM_REGISTRY_TOKEN": self.token,
            "CONTINUUM_DATA_ROOT": (self.home / "data").resolve().as_uri(),
            "CONTINUUM_ARTIFACT_ROOT": (self.home / "artifacts").resolve().as_uri(),
            "CONTINUUM_STATE_DIR": str(state.resolve()),
            **self.extra_env,
        }

    def start(self, services: Iterable[str] = SERVICES, timeout: float = 90.0) -> None:
        """Start services in order, each healthy before the next; raises :class:`StackError`."""
        for name in services:
            self.start_one(name, timeout=timeout)
        self._write_state()

    def start_one(self, name: str, timeout: float = 90.0) -> ServiceProcess:
        """Start one service and wait until its ``/health`` answers 200."""
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", f"continuum.{name}"],
                env=self.environment(name),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = ServiceProcess(name, self.ports[name], process, log_path)
        self.running[name] = service
        self.wait_healthy(service, timeout)
        return service

    def wait_healthy(self, service: ServiceProcess, timeout: float) -> None:
        """Poll ``/health`` until 200; fail fast with the log tail if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not service.alive():
                raise StackError(
                    f"{service.name} exited with code {service.process.returncode}:\n"
                    + log_tail(service.log_path)
                )
            try:
                if httpx.get(f"{service.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise StackError(
            f"{service.name} not healthy after {timeout:.0f}s:\n" + log_tail(service.log_path)
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to a service (SIGKILL by default: no shutdown hooks run)."""
        service = self.running.pop(name)
        service.process.send_signal(sig)
        service.process.wait(timeout=30)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every service (reverse start order): SIGTERM, then SIGKILL if needed."""
        for name in reversed(list(self.running)):
            service = self.running.pop(name)
            if service.alive():
                service.process.terminate()
                try:
                    service.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    service.process.kill()
                    service.process.wait()
        self._write_state()

    def _write_state(self) -> None:
        state = {
            name: {"pid": s.process.pid, "port": s.port, "log": str(s.log_path)}
            for name, s in self.running.items()
        }
        (self.home / "stack.json").write_text(json.dumps(state, indent=2))
