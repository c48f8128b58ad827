"""Result types returned by :class:`continuum.localkafka.LocalKafka`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from continuum.localkafka.logs import log_tail
from continuum.localkafka.probe import BrokerInfo

HOME_ENV = "CONTINUUM_HOME"


def default_data_dir() -> Path:
    """``$CONTINUUM_HOME/kafka``; ``CONTINUUM_HOME`` defaults to ``./.continuum``."""
    return Path(os.environ.get(HOME_ENV) or ".continuum") / "kafka"


@dataclass(frozen=True)
class RunningKafka:
    """A broker that answered a metadata request."""

    data_dir: Path
    host: str
    port: int
    controller_port: int
    pid: int
    version: str
    cluster_id: str
    seconds: float  # the whole start() call, jar download included
    download_seconds: float  # 0 unless this start() downloaded the jars
    already_running: bool

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop this broker (see :meth:`LocalKafka.stop`)."""
        from continuum.localkafka.broker import LocalKafka  # broker imports this module

        return LocalKafka(self.data_dir).stop(timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the broker's logs."""
        return log_tail(self.data_dir / "logs", lines)


@dataclass(frozen=True)
class KafkaStatus:
    """What :meth:`LocalKafka.status` found."""

    data_dir: Path
    running: bool
    pid: int | None
    bootstrap_servers: str | None
    controller_port: int | None
    version: str | None
    reachable: bool
    brokers: tuple[BrokerInfo, ...]
