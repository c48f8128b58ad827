"""One closed-loop run per session, scraped by a real Prometheus while it runs.

``live_loop`` starts Prometheus (Debian's ``prometheus`` package, installed by
``make setup``) with a config that scrapes the five services' local ports every second
and loads the repository's alert rules, then runs the demo's replay against the session
Kafka with ``keep_running``, so the services stay up (and scraped) until every test that
uses the loop is done: those run first and together, then the stack and Prometheus stop.
``loop`` is the demo's result, for tests that need no more.

Imported by ``conftest.py`` (that is what registers the fixtures and the ordering hook).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rich.console import Console

from continuum.cli.demo.run import DemoConfig, DemoResult, run_demo
from continuum.cli.ports import free_ports
from continuum.cli.stack import SERVICES, log_tail

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULES_GLOB = str(PROMETHEUS_DIR / "rules" / "*.yml")
SCRAPE_SECONDS = 1


@dataclass(frozen=True)
class PrometheusTools:
    """The ``prometheus`` and ``promtool`` binaries."""

    prometheus: str
    promtool: str

    def promtool_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run promtool; the caller asserts on the exit code and output."""
        return subprocess.run(
            [self.promtool, *args], capture_output=True, text=True, timeout=120, check=False
        )


@dataclass
class PrometheusServer:
    """A Prometheus process on 127.0.0.1 with its own config and TSDB."""

    url: str
    process: subprocess.Popen[bytes]
    config_path: Path
    log_path: Path

    def api(self, path: str, **params: Any) -> httpx.Response:
        """GET ``/api/v1/<path>`` (the caller checks the status)."""
        return httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)

    def query(self, expr: str, at: float | None = None) -> httpx.Response:
        """An instant query, at ``at`` (unix seconds) or now."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 20s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class LiveLoop:
    """The demo's result, the Prometheus that scraped it, and when the loop ran."""

    result: DemoResult
    prometheus: PrometheusServer
    ports: Mapping[str, int]
    started_at: float
    finished_at: float

    def close(self) -> None:
        """Stop the services, then Prometheus (idempotent)."""
        if self.result.stack is not None:
            self.result.stack.stop()
        self.prometheus.stop()


def scrape_config(ports: Mapping[str, int], rule_files: str = RULES_GLOB) -> dict[str, Any]:
    """The deploy/ config's jobs and rules, on local ports and a 1s interval."""
    return {
        "global": {
            "scrape_interval": f"{SCRAPE_SECONDS}s",
            "scrape_timeout": f"{SCRAPE_SECONDS}s",
            "evaluation_interval": f"{SCRAPE_SECONDS}s",
        },
        "rule_files": [rule_files],
        "scrape_configs": [
            {"job_name": name, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for name, port in ports.items()
        ],
    }


def start_prometheus(
    tools: PrometheusTools, home: Path, ports: Mapping[str, int], port: int
) -> PrometheusServer:
    """Start Prometheus scraping ``ports``; fails the test with its log if it is not ready."""
    home.mkdir(parents=True, exist_ok=True)
    config_path = home / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(scrape_config(ports), sort_keys=False))
    log_path = home / "prometheus.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                tools.prometheus,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1d",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, config_path, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited:\n{log_tail(log_path)}", pytrace=False)
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    server.stop()
    pytest.fail(f"prometheus not ready after 60s:\n{log_tail(log_path)}", pytrace=False)


def quick_spec(folder: Path) -> Path:
    """The example flights spec with a shorter drift cooldown, so a short replay suffices."""
    text = (REPO / "examples" / "pipelines" / "flights.yaml").read_text()
    assert "cooldown_seconds: 45" in text
    path = folder / "flights.yaml"
    path.write_text(text.replace("cooldown_seconds: 45", "cooldown_seconds: 15"))
    return path


LOOP_FIXTURES = frozenset({"live_loop", "loop"})
_RUNNING: list[LiveLoop] = []


def _on_loop(item: pytest.Item | None) -> bool:
    return item is not None and bool(LOOP_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests on the shared loop first, together (in their order).

    First, because the loop's observer reads the shared Kafka's topics from the beginning
    (another test's batches would count as the loop's); together, so its stack can stop
    as soon as the last of them is done (see below).
    """
    on_loop = [item for item in items if _on_loop(item)]
    if on_loop:
        items[:] = on_loop + [item for item in items if not _on_loop(item)]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Stop the loop's services and Prometheus after the last test that uses them: another
    stack on the same Kafka would share their consumer groups and control topics (a second
    ingest in group ``continuum-ingest`` would be given only some source partitions)."""
    if _on_loop(item) and not _on_loop(nextitem):
        while _RUNNING:
            _RUNNING.pop().close()


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    """Debian's ``prometheus`` package; never skipped: missing tools fail the test."""
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus is None or promtool is None:
        pytest.fail(
            "prometheus and promtool are not installed: run make setup "
            "(it installs Debian's prometheus package)",
            pytrace=False,
        )
    return PrometheusTools(prometheus, promtool)


@pytest.fixture(scope="session")
def live_loop(
    kafka: Any, prometheus_tools: PrometheusTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveLoop]:
    """The demo's loop on the session Kafka, scraped by Prometheus; services stay up."""
    home = tmp_path_factory.mktemp("loop")
    *service_ports, prometheus_port = free_ports(len(SERVICES) + 1)
    ports = dict(zip(SERVICES, service_ports, strict=True))
    prometheus = start_prometheus(prometheus_tools, home / "prometheus", ports, prometheus_port)
    try:
        config = DemoConfig(
            home=home / "home",
            spec_path=quick_spec(home),
            months=(1, 4),
            every=3,
            seconds_per_day=0.4,
            settle_seconds=150,
            bootstrap_servers=kafka.bootstrap_servers,
            keep_running=True,
            ports=ports,
        )
        started = time.time()
        result = asyncio.run(run_demo(config, Console(stderr=True, width=200)))
        finished = time.time()
        # Lets scripts/render_dashboard.py plot the run from the kept TSDB afterwards.
        window = {"start": started, "end": finished, "ports": ports}
        (home / "prometheus" / "loop-window.json").write_text(json.dumps(window))
        live = LiveLoop(result, prometheus, ports, started, finished)
        _RUNNING.append(live)
        try:
            yield live
        finally:
            live.close()
    finally:
        prometheus.stop()


@pytest.fixture(scope="session")
def loop(live_loop: LiveLoop) -> DemoResult:
    """The closed loop's result (the services are still up until the session ends)."""
    return live_loop.result
