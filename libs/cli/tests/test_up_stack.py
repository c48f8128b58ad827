"""`continuum up`'s pieces without Kafka: ports, the identity health check, cleanup."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from continuum.cli.health_probe import HealthState, probe_health
from continuum.cli.main import app
from continuum.cli.ports import DEFAULT_PORTS, PortError, free_ports, plan_ports
from continuum.cli.stack import SERVICES, LocalStack, ServiceProcess, StackError, StartProgress
from continuum.cli.stack_file import pid_alive, read_record

FAKE_SERVICE = Path(__file__).with_name("fake_service.py")


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def serve(status: int, body: bytes) -> tuple[HTTPServer, int]:
    """A tiny foreign HTTP server on a free port answering every GET with ``body``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def test_ports_default_base_and_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the arithmetic here: whether 8100-8104 are free depends on this machine.
    monkeypatch.setattr("continuum.cli.ports.port_is_free", lambda port: True)
    assert plan_ports(None, {}).ports == DEFAULT_PORTS
    assert plan_ports(None, {}).picked == ()
    assert list(plan_ports(8200, {}).ports.values()) == [8200, 8201, 8202, 8203, 8204]
    assert list(plan_ports(8200, {}).ports) == list(DEFAULT_PORTS)
    explicit = plan_ports(8200, {"trainer": 9000, "monitor": 0})
    assert explicit.ports["trainer"] == 9000
    assert explicit.ports["registry"] == 8200
    assert explicit.ports["monitor"] not in (0, 8204)
    assert explicit.picked == ("monitor",)


def test_base_port_zero_picks_distinct_free_ports_and_says_so() -> None:
    plan = plan_ports(0, {})
    assert plan.picked == tuple(DEFAULT_PORTS)
    assert len(set(plan.ports.values())) == len(DEFAULT_PORTS)
    assert all(port > 0 for port in plan.ports.values())


def test_busy_and_duplicate_ports_are_named(busy_port: int) -> None:
    with pytest.raises(PortError, match=f"port {busy_port} \\(serving\\) is in use"):
        plan_ports(0, {"serving": busy_port})
    with pytest.raises(PortError, match="chosen for both registry and ingest"):
        plan_ports(0, {"registry": 40000, "ingest": 40000})
    with pytest.raises(PortError, match="--base-port"):
        plan_ports(65534, {})


def test_up_reports_a_busy_port_before_starting_anything(tmp_path: Path, busy_port: int) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["up", "--home", str(home), "--base-port", "0", "--registry-port", str(busy_port)]
    )
    assert result.exit_code == 1
    assert f"port {busy_port} (registry) is in use by another program" in result.output
    assert "--base-port 0" in result.output
    assert not (home / "kafka").exists()  # nothing was started


def test_health_probe_checks_the_service_identity() -> None:
    foreign, foreign_port = serve(200, b"OK")
    registry, registry_port = serve(
        200, json.dumps({"status": "ok", "service": "registry"}).encode()
    )
    starting, starting_port = serve(
        503, json.dumps({"status": "starting", "service": "trainer"}).encode()
    )
    try:
        assert (
            probe_health(f"http://127.0.0.1:{foreign_port}", "registry").state
            is HealthState.FOREIGN
        )
        assert (
            probe_health(f"http://127.0.0.1:{registry_port}", "registry").state
            is HealthState.HEALTHY
        )
        assert (
            probe_health(f"http://127.0.0.1:{registry_port}", "serving").state
            is HealthState.FOREIGN
        )
        assert (
            probe_health(f"http://127.0.0.1:{starting_port}", "trainer").state
            is HealthState.STARTING
        )
    finally:
        for server in (foreign, registry, starting):
            server.shutdown()
    closed = free_ports(1)[0]
    assert probe_health(f"http://127.0.0.1:{closed}", "registry").state is HealthState.SILENT


def test_wait_healthy_refuses_a_foreign_server(tmp_path: Path) -> None:
    server, port = serve(200, b"<html>someone else</html>")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stack = LocalStack(tmp_path, "127.0.0.1:9")
        service = ServiceProcess("registry", port, sleeper, tmp_path / "registry.log")
        with pytest.raises(StackError, match=f"port {port} answers /health, but not as registry"):
            stack.wait_healthy(service, timeout=30)
    finally:
        sleeper.kill()
        sleeper.wait()
        server.shutdown()


def fake_stack(home: Path, fail: str | None, steps: list[StartProgress]) -> LocalStack:
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    return LocalStack(
        home,
        "127.0.0.1:9",
        ports=ports,
        extra_env={"FAKE_FAIL": fail or ""},
        command=lambda name: [sys.executable, str(FAKE_SERVICE), name],
        report=steps.append,
        owner_pid=os.getpid(),
    )


def test_stack_file_lists_each_process_as_it_starts(tmp_path: Path) -> None:
    seen: dict[str, list[str]] = {}
    steps: list[StartProgress] = []
    stack = fake_stack(tmp_path, None, steps)

    def record(step: StartProgress) -> None:
        steps.append(step)
        if step.stage == "starting":  # not yet healthy: `down` must already know it
            seen[step.service] = list(read_record(tmp_path).services)

    stack.report = record
    try:
        stack.start(timeout=30)
        assert seen["registry"] == ["registry"]
        assert seen["monitor"] == list(SERVICES)
        assert read_record(tmp_path).owner_pid == os.getpid()
        assert [s.service for s in steps if s.stage == "healthy"] == list(SERVICES)
    finally:
        stack.stop()
    assert read_record(tmp_path).services == {}


def test_a_failed_start_leaves_no_process_behind(tmp_path: Path) -> None:
    steps: list[StartProgress] = []
    stack = fake_stack(tmp_path, "trainer", steps)
    with pytest.raises(StackError, match="trainer exited with code 3"):
        stack.start(timeout=30)
    started = {s.service: s.pid for s in steps if s.stage == "starting"}
    assert list(started) == ["registry", "ingest", "trainer"]
    assert not [name for name, pid in started.items() if pid_alive(pid)]
    assert stack.running == {}
    assert read_record(tmp_path).services == {}
