"""Config rendering and cluster ids."""

import base64
import re
from pathlib import Path

from continuum.localkafka import new_cluster_id, render_log4j2_properties, render_server_properties


def _props(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {k: v for k, v in pairs}


def test_server_properties_single_node_kraft(tmp_path: Path) -> None:
    props = _props(
        render_server_properties(
            host="127.0.0.1", port=19092, controller_port=19093, log_dirs=tmp_path / "data"
        )
    )
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    expected = "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["listeners"] == expected
    assert props["advertised.listeners"] == expected
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["listener.security.protocol.map"] == "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    assert props["log.dirs"] == str(tmp_path / "data")
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "3"
    assert props["auto.create.topics.enable"] == "true"


def test_log4j2_config_writes_info_to_server_log(tmp_path: Path) -> None:
    text = render_log4j2_properties(tmp_path / "logs")
    assert f"appender.file.fileName = {tmp_path / 'logs' / 'server.log'}" in text
    assert "rootLogger.level = INFO" in text


def test_cluster_id_is_urlsafe_base64_of_16_bytes() -> None:
    ids = {new_cluster_id() for _ in range(500)}
    assert len(ids) == 500
    for cid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid)
        assert not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16
