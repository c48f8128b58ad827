"""Starting, stopping and inspecting a local single-node Kafka broker (KRaft).

The sync API is what pytest fixtures and the CLI use::

    running = LocalKafka(tmp_dir).start(port=0)
    print(running.bootstrap_servers)
    running.stop()
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from continuum.localkafka.config import (
    NODE_ID,
    new_cluster_id,
    render_log4j2_properties,
    render_server_properties,
)
from continuum.localkafka.errors import KafkaStartError, LocalKafkaError
from continuum.localkafka.handles import KafkaStatus, RunningKafka, default_data_dir
from continuum.localkafka.jars import KafkaJars, resolve_jars
from continuum.localkafka.java import check_java
from continuum.localkafka.logs import log_tail
from continuum.localkafka.probe import BrokerInfo, probe_brokers, run_sync
from continuum.localkafka.process import (
    broker_command,
    format_storage,
    launch,
    storage_format_command,
    terminate,
)
from continuum.localkafka.security import ScramSecurity, create_acls
from continuum.localkafka.state import (
    KafkaState,
    is_broker_process,
    load_state,
    pick_free_port,
    port_accepts,
    port_is_free,
    process_alive,
    save_state,
)

DEFAULT_PORT = 9092


class LocalKafka:
    """One broker data dir: config, storage, logs, process and state all live inside it.

    With ``security`` the broker takes SASL/SCRAM clients only and authorizes them by ACL
    (:mod:`continuum.localkafka.security`); its users are fixed when the data dir's storage
    is formatted (its first start), its ACLs are created on every start.
    """

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        pom: Path | str | None = None,
        cache_dir: Path | None = None,
        host: str = "127.0.0.1",
        heap: str = "512m",
        console: Console | None = None,
        quiet: bool = False,
        security: ScramSecurity | None = None,
    ) -> None:
        self.data_dir = Path(data_dir or default_data_dir()).expanduser().resolve()
        self.pom = pom
        self.cache_dir = cache_dir
        self.host = host
        self.heap = heap
        self.console = console
        self.quiet = quiet
        self.security = security
        self.config_path = self.data_dir / "server.properties"
        self.log4j_path = self.data_dir / "log4j2.properties"
        self.logs_dir = self.data_dir / "logs"
        self.kraft_dir = self.data_dir / "kraft-logs"

    def fetch(self) -> KafkaJars:
        """Resolve (download once) the broker jars without starting anything."""
        return resolve_jars(
            self.pom, cache_dir=self.cache_dir, console=self.console, quiet=self.quiet
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the broker's logs."""
        return log_tail(self.logs_dir, lines)

    def _running_pid(self, state: KafkaState | None) -> int | None:
        if state is None or state.pid is None:
            return None
        return state.pid if is_broker_process(state.pid, self.config_path) else None

    def start(self, port: int | None = None, *, timeout: float = 90.0) -> RunningKafka:
        """Start the broker, or return the one already running on this data dir.

        ``port=None`` reuses the port this data dir used last, else 9092; ``port=0`` picks
        a free port (preferring the last one). Returns once a client fetched metadata
        listing the broker; raises :class:`KafkaStartError` (with the log tail) otherwise.
        """
        began = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        state = load_state(self.data_dir)
        pid = self._running_pid(state)
        if state is not None and pid is not None and state.port is not None:
            if port not in (None, 0, state.port):
                raise LocalKafkaError(
                    f"Kafka is already running from {self.data_dir} on port {state.port} "
                    f"(pid {pid}); stop it first to use port {port}."
                )
            self._wait_ready(state.port, pid, began + timeout)
            return self._running(state, pid, began, 0.0, already=True)

        java, _ = check_java()
        jars = self.fetch()
        state = state or KafkaState(cluster_id=new_cluster_id(), controller_port=0)
        state.port = self._choose_port(port, state.port)
        if not state.controller_port:
            state.controller_port = pick_free_port(self.host)
        elif not port_is_free(self.host, state.controller_port):
            raise LocalKafkaError(
                f"Controller port {state.controller_port} (fixed for {self.data_dir} when its "
                "storage was formatted) is in use by another process. Free it, or use a new "
                "data dir."
            )
        state.pid, state.version = None, jars.version
        self._write_configs(state.port, state.controller_port)
        save_state(self.data_dir, state)  # before formatting, so the cluster id sticks
        format_storage(
            storage_format_command(
                java,
                jars.classpath,
                self.config_path,
                state.cluster_id,
                self.security.format_arguments() if self.security else None,
            ),
            self.kraft_dir,
        )
        cmd = broker_command(
            java, jars.classpath, self.config_path, self.log4j_path, self.logs_dir, self.heap
        )
        proc = launch(cmd, self.data_dir, self.logs_dir / "kafka.out")
        state.pid, state.started_at = proc.pid, time.time()
        save_state(self.data_dir, state)
        try:
            self._wait_ready(state.port, proc.pid, began + timeout)
            if self.security is not None and self.security.acls:
                run_sync(create_acls(f"{self.host}:{state.port}", self.security))
        except BaseException:
            self.stop(timeout=10.0)  # never leave a half-started broker behind
            raise
        download = jars.seconds if jars.downloaded else 0.0
        return self._running(state, proc.pid, began, download, already=False)

    def _choose_port(self, port: int | None, previous: int | None) -> int:
        if port == 0:
            if previous and port_is_free(self.host, previous):
                return previous
            return pick_free_port(self.host)
        port = port or previous or DEFAULT_PORT
        if not port_is_free(self.host, port):
            raise LocalKafkaError(
                f"Kafka's port {self.host}:{port} is already in use; choose another "
                "(`continuum kafka start --port N`, `continuum up --kafka-port N`; "
                "0 picks a free port)."
            )
        return port

    def _running(
        self, state: KafkaState, pid: int, began: float, download: float, *, already: bool
    ) -> RunningKafka:
        assert state.port is not None
        return RunningKafka(
            data_dir=self.data_dir,
            host=self.host,
            port=state.port,
            controller_port=state.controller_port,
            pid=pid,
            version=state.version or "?",
            cluster_id=state.cluster_id,
            seconds=time.monotonic() - began,
            download_seconds=download,
            already_running=already,
        )

    def _write_configs(self, port: int, controller_port: int) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        properties = render_server_properties(
            host=self.host,
            port=port,
            controller_port=controller_port,
            log_dirs=self.kraft_dir,
            listener_lines=(
                self.security.listener_properties(self.host, port, controller_port)
                if self.security
                else None
            ),
        )
        self.config_path.write_text(properties, encoding="utf-8")
        self.log4j_path.write_text(render_log4j2_properties(self.logs_dir), encoding="utf-8")

    def _client(self) -> dict[str, Any] | None:
        """The admin's client options on a secured broker."""
        return self.security.client_options() if self.security else None

    def _wait_ready(self, port: int, pid: int, deadline: float) -> None:
        bootstrap = f"{self.host}:{port}"
        while True:
            # process_alive also reaps our own exited child, so a crash is seen at once.
            if not process_alive(pid):
                raise KafkaStartError(
                    f"Kafka (pid {pid}) exited during startup.", self.log_tail(40)
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KafkaStartError(
                    f"Kafka (pid {pid}) did not serve metadata on {bootstrap} in time.",
                    self.log_tail(40),
                )
            # The TCP check only avoids noisy client errors while the port is still closed.
            if port_accepts(self.host, port):
                brokers = probe_brokers(
                    bootstrap, timeout=min(5.0, max(remaining, 0.5)), client_options=self._client()
                )
                if any(b.node_id == NODE_ID for b in brokers):
                    return
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the broker's process group; SIGKILL it after ``timeout`` seconds.

        Returns whether a broker was running. Data stays, so a later start keeps topics.
        """
        state = load_state(self.data_dir)
        if state is None:
            return False
        pid = self._running_pid(state)
        if pid is not None:
            terminate(pid, timeout)
        state.pid, state.started_at = None, None
        save_state(self.data_dir, state)
        return pid is not None

    def status(self, probe_timeout: float = 5.0) -> KafkaStatus:
        """Report whether the broker runs and whether a client can fetch metadata."""
        state = load_state(self.data_dir)
        pid = self._running_pid(state)
        bootstrap = None
        brokers: list[BrokerInfo] = []
        if state is not None and state.port is not None:
            bootstrap = f"{self.host}:{state.port}"
            if pid is not None and port_accepts(self.host, state.port):
                brokers = probe_brokers(
                    bootstrap, timeout=probe_timeout, client_options=self._client()
                )
        return KafkaStatus(
            data_dir=self.data_dir,
            running=pid is not None,
            pid=pid,
            bootstrap_servers=bootstrap,
            controller_port=state.controller_port if state else None,
            version=state.version if state else None,
            reachable=any(b.node_id == NODE_ID for b in brokers),
            brokers=tuple(brokers),
        )


def start(
    port: int | None = None, data_dir: Path | str | None = None, *, timeout: float = 90.0
) -> RunningKafka:
    """Start (or find) the broker of ``data_dir``; see :meth:`LocalKafka.start`."""
    return LocalKafka(data_dir).start(port, timeout=timeout)


def stop(data_dir: Path | str | None = None, *, timeout: float = 30.0) -> bool:
    """Stop the broker of ``data_dir``; see :meth:`LocalKafka.stop`."""
    return LocalKafka(data_dir).stop(timeout=timeout)


def status(data_dir: Path | str | None = None) -> KafkaStatus:
    """Status of the broker of ``data_dir``; see :meth:`LocalKafka.status`."""
    return LocalKafka(data_dir).status()
