"""Settings come from the launcher's environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from continuum.monitor.settings import MonitorSettings


def test_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONTINUUM_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    monkeypatch.setenv("CONTINUUM_HTTP_PORT", "18500")
    monkeypatch.setenv("CONTINUUM_REGISTRY_URL", "http://127.0.0.1:18100")
    monkeypatch.setenv("CONTINUUM_REGISTRY_TOKEN", "secret-token")
    monkeypatch.setenv("CONTINUUM_ARTIFACT_ROOT", f"file://{tmp_path}/artifacts")
    monkeypatch.setenv("CONTINUUM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CONTINUUM_MONITOR_QUALITY_WINDOW_ROWS", "250")

    settings = MonitorSettings()

    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.http_port == 18500
    assert settings.registry_url == "http://127.0.0.1:18100"
    assert settings.registry_token is not None
    assert settings.registry_token.get_secret_value() == "secret-token"
    assert settings.artifact_root == f"file://{tmp_path}/artifacts"
    assert settings.state_dir == tmp_path / "state"
    assert settings.quality_window_rows == 250
    assert settings.consumer_group == "continuum-monitor"
