"""Shared by every test in the repository: the test deployment's event key.

Every Continuum broker signs the events it publishes and refuses unsigned ones, so a
service cannot start without ``CONTINUUM_KAFKA_EVENT_KEY``. Like the local stack, which
makes one per home, the test session makes its own random key (none is in the repository)
and sets it when pytest starts, before collection (some modules build an app at import)
and before any fixture; processes a test starts inherit it. Tests about a missing or
wrong key remove or replace it themselves (``monkeypatch``).
"""

from __future__ import annotations

import os
import secrets

import pytest

EVENT_KEY_VARIABLE = "CONTINUUM_KAFKA_EVENT_KEY"
_REPLACED = (EVENT_KEY_VARIABLE, "CONTINUUM_KAFKA_EVENT_KEY_FILE")
_saved: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Give the session its own random event key."""
    for name in _REPLACED:
        _saved[name] = os.environ.pop(name, None)
    os.environ[EVENT_KEY_VARIABLE] = secrets.token_urlsafe(32)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Put back what the environment held before the session."""
    for name, value in _saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def event_key() -> str:
    """This test session's event key (what every broker built from settings signs with)."""
    return os.environ[EVENT_KEY_VARIABLE]
