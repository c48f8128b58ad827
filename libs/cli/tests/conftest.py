"""Makes ``export_testkit`` importable (pytest runs with ``--import-mode=importlib``), and
fits models with one OpenMP thread, as the trainer does: HistGradientBoosting's threads
otherwise contend with everything else on a two-core machine."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

_HERE = str(Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield
