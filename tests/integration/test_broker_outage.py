"""A broker outage on a real Kafka: a running service writes a bounded number of log lines
and its connectivity metric goes to 0 and back to 1.

The test's own broker (not the session's: other tests hold the session broker's process
id and must not see it change) is stopped for ~12 s and started again on the same port and
data dir.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from continuum.localkafka import LocalKafka, RunningKafka

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 12.0
MAX_NEW_LINES = 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def metric(url: str, name: str) -> float | None:
    """The value of ``name{service="registry"}`` on ``url``/metrics (None when absent)."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(f'{name}{{service="registry"}} '):
            return float(line.split()[-1])
    return None


def wait_until(check: Callable[[], bool], limit: float, what: str, log: Path) -> float:
    """Seconds until ``check()`` held; fails with the service's log tail otherwise."""
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > limit:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            pytest.fail(f"timed out after {limit}s waiting for {what}; log tail:\n{tail}")
        time.sleep(0.25)
    return time.monotonic() - began


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[RunningKafka]:
    """A broker of this test alone, on a free port."""
    local = LocalKafka(tmp_path / "kafka")
    running = local.start(port=0)
    try:
        yield running
    finally:
        local.stop()


@pytest.fixture
def registry_process(own_kafka: RunningKafka, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``python -m continuum.registry`` (logging set up by ``serve``) on a free port."""
    port = free_port()
    log = tmp_path / "registry.log"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "CONTINUUM_KAFKA_BOOTSTRAP_SERVERS": own_kafka.bootstrap_servers,
        "CONTINUUM_HTTP_HOST": "127.0.0.1",
        "CONTINUUM_HTTP_PORT": str(port),
        "CONTINUUM_STATE_DIR": str(tmp_path / "state"),
        "CONTINUUM_ARTIFACT_ROOT": (tmp_path / "artifacts").as_uri(),
        "CONTINUUM_REGISTRY_TOKEN": "outage-test-token",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "continuum.registry"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_outage_logs_a_bounded_number_of_lines_and_the_gauge_follows_it(
    own_kafka: RunningKafka, registry_process: tuple[str, Path]
) -> None:
    url, log = registry_process
    connected = "continuum_broker_connected"
    errors = "continuum_broker_connection_errors_total"
    wait_until(lambda: metric(url, connected) == 1.0, 60, "the registry to connect", log)
    lines_before = len(log.read_text(errors="replace").splitlines())
    errors_before = metric(url, errors)
    assert errors_before is not None

    local = LocalKafka(own_kafka.data_dir)
    local.stop()
    try:
        went_down = wait_until(lambda: metric(url, connected) == 0.0, 10, "gauge 0", log)
        time.sleep(max(OUTAGE_SECONDS - went_down, 0))
    finally:
        local.start(port=own_kafka.port)
    wait_until(lambda: metric(url, connected) == 1.0, 60, "gauge 1 again", log)
    time.sleep(1.0)  # let the reconnect's own lines arrive

    new_lines = log.read_text(errors="replace").splitlines()[lines_before:]
    failures = (metric(url, errors) or 0.0) - errors_before
    print(f"{len(new_lines)} new log lines for {failures:.0f} failed connection attempts")
    assert failures > 0, "the outage caused no failed connection attempt"
    assert any("Unable connect" in line for line in new_lines)
    assert len(new_lines) < MAX_NEW_LINES, "\n".join(new_lines)
