"""The local broker against real clients: aiokafka and kcat (a client we did not write)."""

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from continuum.localkafka import LocalKafka, RunningKafka, fetch_brokers

pytestmark = pytest.mark.integration


def _kcat(*args: str, stdin: str | None = None, timeout: float = 60) -> str:
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    if kcat is None:
        pytest.fail("kcat is required: apt-get install -y kcat")
    proc = subprocess.run(
        [kcat, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"kcat {' '.join(args)} failed:\n{proc.stderr}"
    return proc.stdout


def _produce(bootstrap: str, topic: str, messages: list[str]) -> None:
    # -X acks=all and a clean exit code mean every message was delivered.
    _kcat("-P", "-b", bootstrap, "-t", topic, "-X", "acks=all", stdin="\n".join(messages) + "\n")


def _consume_all(bootstrap: str, topic: str) -> list[str]:
    out = _kcat("-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q")
    return out.splitlines()


async def test_metadata_lists_the_broker(kafka: RunningKafka) -> None:
    brokers = await fetch_brokers(kafka.bootstrap_servers)
    assert [(b.node_id, b.host, b.port) for b in brokers] == [(1, "127.0.0.1", kafka.port)]


def test_kcat_lists_the_broker(kafka: RunningKafka) -> None:
    metadata = json.loads(_kcat("-L", "-J", "-b", kafka.bootstrap_servers))
    assert [(b["id"], b["name"]) for b in metadata["brokers"]] == [(1, kafka.bootstrap_servers)]


def test_kcat_round_trip_of_1000_messages(kafka: RunningKafka) -> None:
    topic = f"it-kcat-{uuid.uuid4().hex[:8]}"
    messages = [f"message-{i:04d}" for i in range(1000)]
    _produce(kafka.bootstrap_servers, topic, messages)
    received = _consume_all(kafka.bootstrap_servers, topic)
    # Auto-created with num.partitions=3: order holds per partition only.
    assert sorted(received) == messages


def test_start_is_idempotent(kafka: RunningKafka) -> None:
    again = LocalKafka(kafka.data_dir).start(port=0)
    assert again.already_running
    assert (again.pid, again.port) == (kafka.pid, kafka.port)


def test_restart_keeps_topics_and_messages(tmp_path: Path) -> None:
    local = LocalKafka(tmp_path / "restart")
    topic = "it-restart"
    messages = [f"kept-{i}" for i in range(100)]
    first = local.start(port=0)
    try:
        _produce(first.bootstrap_servers, topic, messages)
        assert local.stop()
        assert not local.status().running
        second = local.start(port=0)
        assert (second.cluster_id, second.controller_port) == (
            first.cluster_id,
            first.controller_port,
        )
        assert local.status().reachable
        assert sorted(_consume_all(second.bootstrap_servers, topic)) == sorted(messages)
    finally:
        local.stop()
    assert not local.status().running
