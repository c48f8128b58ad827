"""A throwaway Redis server for the online store's contract tests (never skipped)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared Redis helper lives in the repository's tests/ folder (importlib mode does
# not put it on sys.path).
_TESTS = str(Path(__file__).parents[3] / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from throwaway_redis import RedisServer, throwaway_redis  # noqa: E402


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis server for the session; each test uses its own database or views."""
    with throwaway_redis() as server:
        yield server
