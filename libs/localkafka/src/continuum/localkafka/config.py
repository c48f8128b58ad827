"""Rendering the broker's ``server.properties`` and log4j2 configuration, and cluster ids."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

#: The single node is both broker and KRaft controller; its id is fixed.
NODE_ID = 1


def new_cluster_id() -> str:
    """Return a new KRaft cluster id: urlsafe base64 of 16 random bytes, no padding.

    This is the format of Kafka's ``Uuid.toString()``. Like ``Uuid.randomUuid()`` we never
    return an id starting with ``-`` (command-line parsers take it for an option) nor the
    all-zero id (reserved by Kafka).
    """
    while True:
        raw = secrets.token_bytes(16)
        text = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        if not text.startswith("-") and any(raw):
            return text


def plaintext_listeners(host: str, port: int, controller_port: int) -> list[str]:
    """The listener lines of an unsecured broker: anyone who reaches the port may do anything."""
    return [
        f"listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        f"advertised.listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    ]


def render_server_properties(
    *,
    host: str,
    port: int,
    controller_port: int,
    log_dirs: Path,
    num_partitions: int = 3,
    listener_lines: list[str] | None = None,
) -> str:
    """Return ``server.properties`` for a single-node combined broker+controller (KRaft).

    ``listener_lines`` replace the plain-text listeners (a secured broker's, from
    :meth:`continuum.localkafka.security.ScramSecurity.listener_properties`).
    """
    if listener_lines is None:
        listener_lines = plaintext_listeners(host, port, controller_port)
    lines = [
        "# Written by continuum.localkafka; rewritten on every start.",
        "process.roles=broker,controller",
        f"node.id={NODE_ID}",
        f"controller.quorum.bootstrap.servers={host}:{controller_port}",
        *listener_lines,
        f"log.dirs={log_dirs}",
        # One node: every internal topic must be creatable with a single replica.
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "default.replication.factor=1",
        "min.insync.replicas=1",
        # The default 3 s delay only helps when many consumers join at once; tests pay it.
        "group.initial.rebalance.delay.ms=0",
        f"num.partitions={num_partitions}",
        "auto.create.topics.enable=true",
    ]
    return "\n".join(lines) + "\n"


def render_log4j2_properties(log_dir: Path) -> str:
    """Return a log4j2 properties config writing INFO to ``<log_dir>/server.log``.

    Without ``-Dlog4j2.configurationFile`` log4j2 logs errors only, so startup problems
    would be invisible. The file rolls at 20 MB so a long-lived dev broker stays small.
    """
    log_file = log_dir / "server.log"
    return "\n".join(
        [
            "status = warn",
            "name = continuum-localkafka",
            "appender.file.type = RollingFile",
            "appender.file.name = file",
            f"appender.file.fileName = {log_file}",
            f"appender.file.filePattern = {log_file}.%i",
            "appender.file.layout.type = PatternLayout",
            "appender.file.layout.pattern = [%d] %p %m (%c)%n",
            "appender.file.policies.type = Policies",
            "appender.file.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.file.policies.size.size = 20MB",
            "appender.file.strategy.type = DefaultRolloverStrategy",
            "appender.file.strategy.max = 3",
            "rootLogger.level = INFO",
            "rootLogger.appenderRef.file.ref = file",
            # Per-request logging is DEBUG noise at INFO in some versions.
            "logger.request.name = kafka.request.logger",
            "logger.request.level = WARN",
            "",
        ]
    )
