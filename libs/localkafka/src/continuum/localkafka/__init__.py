"""Run a real single-node Apache Kafka (KRaft) from Maven Central jars.

No tarball and no Docker: ``deploy/kafka/pom.xml`` lists the broker jars, Maven downloads
them once into ``~/.cache/continuum/kafka/<version>/``, and the broker runs as a detached
JVM whose config, data, logs and state all live in one data dir.
"""

from continuum.localkafka.broker import DEFAULT_PORT, LocalKafka, start, status, stop
from continuum.localkafka.config import (
    new_cluster_id,
    render_log4j2_properties,
    render_server_properties,
)
from continuum.localkafka.errors import (
    JarResolutionError,
    KafkaStartError,
    LocalKafkaError,
    MissingToolError,
    PomNotFoundError,
)
from continuum.localkafka.handles import KafkaStatus, RunningKafka, default_data_dir
from continuum.localkafka.jars import KafkaJars, cache_root, find_pom, resolve_jars
from continuum.localkafka.probe import BrokerInfo, fetch_brokers
from continuum.localkafka.security import ScramSecurity

__all__ = [
    "DEFAULT_PORT",
    "BrokerInfo",
    "JarResolutionError",
    "KafkaJars",
    "KafkaStartError",
    "KafkaStatus",
    "LocalKafka",
    "LocalKafkaError",
    "MissingToolError",
    "PomNotFoundError",
    "RunningKafka",
    "ScramSecurity",
    "cache_root",
    "default_data_dir",
    "fetch_brokers",
    "find_pom",
    "new_cluster_id",
    "render_log4j2_properties",
    "render_server_properties",
    "resolve_jars",
    "start",
    "status",
    "stop",
]
