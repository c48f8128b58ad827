"""`continuum up` and `down` as a newcomer runs them: real Kafka, real services.

Each test starts its own `up` (Kafka from the test's home on a free port), so they are
slow: one failed start, and two whole stacks side by side.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from continuum.cli.health_probe import HealthState, probe_health
from continuum.cli.stack import SERVICES
from continuum.cli.stack_file import read_record
from continuum.localkafka import LocalKafka

pytestmark = pytest.mark.integration


def continuum(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "continuum.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def processes_of(home: Path) -> list[int]:
    """Pids whose environment or command line mentions ``home`` (services, Kafka, up)."""
    found = []
    needle = str(home).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            text = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
            state = (proc / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if needle in text and state != "Z":
            found.append(int(proc.name))
    return found


class Up:
    """A running `continuum up`, its output collected as it comes."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.process = continuum("up", "--home", str(home), "--base-port", "0")
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        for stream, sink in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            threading.Thread(target=lambda s=stream, k=sink: k.extend(s), daemon=True).start()

    def wait_ready(self, limit: float = 600) -> None:
        deadline = time.monotonic() + limit
        while not any("registry token in" in line for line in self.stdout):
            assert self.process.poll() is None, "".join(self.stderr)
            assert time.monotonic() < deadline, "".join(self.stderr)
            time.sleep(0.5)


@pytest.mark.timeout(600)
def test_a_failed_up_leaves_no_process_behind(tmp_path: Path) -> None:
    # The trainer crashes at start (registry and ingest are up by then, Kafka too).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, sys\n"
        "if os.environ.get('CONTINUUM_SERVICE_NAME') == 'trainer':\n"
        "    print('trainer: failing on purpose', flush=True)\n"
        "    os._exit(3)\n"
    )
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")]),
    }
    up = continuum("up", "--home", str(home), "--base-port", "0", env=env)
    _, stderr = up.communicate(timeout=540)
    assert up.returncode == 1, stderr
    assert "trainer exited with code 3" in stderr
    assert "trainer: failing on purpose" in stderr  # the log tail says why
    assert "Everything this command started has been stopped" in stderr
    for started in ("registry", "ingest", "trainer"):
        assert f"{started:<9} starting on port" in stderr
    assert not (home / "stack.json").exists()
    assert not LocalKafka(home / "kafka").status().running
    assert processes_of(home) == []


@pytest.mark.timeout(900)
def test_two_stacks_side_by_side_and_down_while_up(tmp_path: Path) -> None:
    began = time.monotonic()
    ups = [Up(tmp_path / "a"), Up(tmp_path / "b")]
    try:
        for up in ups:
            up.wait_ready()
        records = [read_record(up.home) for up in ups]
        ports = [{n: s.port for n, s in r.services.items()} for r in records]
        assert all(list(p) == list(SERVICES) for p in ports)
        assert not set(ports[0].values()) & set(ports[1].values())
        assert records[0].kafka != records[1].kafka
        for record in records:
            for name, service in record.services.items():
                probe = probe_health(f"http://127.0.0.1:{service.port}", name)
                assert probe.state is HealthState.HEALTHY, (name, probe)

        # `down` while `up` runs: up ends quietly, and only its own stack goes.
        down = continuum("down", "--home", str(ups[0].home))
        assert down.wait(timeout=120) == 0
        assert ups[0].process.wait(timeout=60) == 0
        stderr = "".join(ups[0].stderr)
        assert "stopped by continuum down" in stderr
        assert "unexpectedly" not in stderr
        assert processes_of(ups[0].home) == []
        assert ups[1].process.poll() is None
        for name, service in records[1].services.items():
            assert (
                probe_health(f"http://127.0.0.1:{service.port}", name).state is HealthState.HEALTHY
            )
    finally:
        for up in ups:
            subprocess.run(
                [sys.executable, "-m", "continuum.cli.main", "down", "--home", str(up.home)],
                capture_output=True,
                timeout=120,
                check=False,
            )
        print(f"two stacks: {time.monotonic() - began:.0f}s wall")
    assert ups[1].process.wait(timeout=60) == 0
    assert processes_of(ups[1].home) == []
