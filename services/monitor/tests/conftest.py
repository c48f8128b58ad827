"""Makes ``monitor_testkit`` importable (pytest runs with ``--import-mode=importlib``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from continuum.storage import MemoryObjectStore  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_memory_stores() -> Iterator[None]:
    yield
    MemoryObjectStore.reset_all()
