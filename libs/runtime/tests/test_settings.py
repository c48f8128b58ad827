from __future__ import annotations

import pytest
from pydantic_settings import SettingsConfigDict

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


class _Service(RegistryCallerSettings):
    model_config = SettingsConfigDict(env_prefix="CONTINUUM_THING_")

    http_port: int = 8999
    tick_seconds: float = 1.0


def test_shared_fields_keep_their_names_and_own_fields_take_the_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONTINUUM_HTTP_PORT", "8124")
    monkeypatch.setenv("CONTINUUM_STATE_DIR", "/var/state")
    monkeypatch.setenv("CONTINUUM_REGISTRY_URL", "http://registry:8100")
    monkeypatch.setenv("CONTINUUM_THING_TICK_SECONDS", "2.5")
    monkeypatch.setenv("CONTINUUM_TICK_SECONDS", "9")  # not this service's name: ignored
    monkeypatch.setenv("CONTINUUM_THING_HTTP_PORT", "1")  # a shared field: ignored
    settings = _Service()
    assert (settings.http_port, str(settings.state_dir)) == (8124, "/var/state")
    assert (settings.registry_url, settings.tick_seconds) == ("http://registry:8100", 2.5)
    assert _Service.env_name("http_port") == "CONTINUUM_HTTP_PORT"
    assert _Service.env_name("tick_seconds") == "CONTINUUM_THING_TICK_SECONDS"
    assert _Service(tick_seconds=4).tick_seconds == 4  # by name, as tests pass them


def test_the_online_store_defaults_to_sqlite_in_the_state_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CONTINUUM_ONLINE_STORE_URI", raising=False)
    monkeypatch.setenv("CONTINUUM_STATE_DIR", "/var/state")
    assert _Service().online_store_uri == "sqlite:////var/state/online.db"
    monkeypatch.setenv("CONTINUUM_ONLINE_STORE_URI", "redis://redis:6379/0")
    assert _Service().online_store_uri == "redis://redis:6379/0"
    assert _Service.env_name("online_store_uri") == "CONTINUUM_ONLINE_STORE_URI"
