"""Makes ``ingest_testkit`` importable (tests run with ``--import-mode=importlib``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ingest_testkit import Harness

from continuum.storage import MemoryObjectStore


@pytest.fixture
def harness_factory() -> Callable[[], Harness]:
    MemoryObjectStore.reset_all()
    count = 0

    def factory() -> Harness:
        nonlocal count
        count += 1
        return Harness(f"memory://ingest-{count}")

    return factory
