from __future__ import annotations

import pytest

from continuum.runtime.settings import RegistryCallerSettings, ServiceSettings


def test_shared_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTINUUM_HTTP_PORT", "8123")
    monkeypatch.setenv("CONTINUUM_DATA_ROOT", "memory://data")
    settings = ServiceSettings()
    assert (settings.http_port, settings.data_root) == (8123, "memory://data")


def test_the_registry_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTINUUM_REGISTRY_URL", "http://registry:8100")
    monkeypatch.setenv("CONTINUUM_REGISTRY_TOKEN", "hunter22")
    settings = RegistryCallerSettings()
    assert settings.registry_url == "http://registry:8100"
    assert settings.registry_bearer == "hunter22"
    assert "hunter22" not in repr(settings)
