"""Makes the helpers beside the end-to-end tests importable, a throwaway PostgreSQL, and the
shared closed-loop run (``live_loop.py``).

pytest runs with ``--import-mode=importlib``, which puts no test folder on ``sys.path``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

for _folder in (Path(__file__).parent, Path(__file__).parents[1]):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

# The closed loop scraped by Prometheus, shared by the closed-loop and Prometheus tests.
from live_loop import (  # noqa: E402, F401
    live_loop,
    loop,
    prometheus_tools,
    pytest_collection_modifyitems,
    pytest_runtest_teardown,
)
from throwaway_postgres import PostgresServer, throwaway_postgres  # noqa: E402


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 for this session (no database of its own yet)."""
    with throwaway_postgres() as server:
        yield server
