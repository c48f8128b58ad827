"""One BLAS/OpenMP thread per test process, as the trainer trains (``threadpool_limits``).

HistGradientBoosting's OpenMP threads otherwise contend with everything else on a
two-core machine and a fit of a few thousand rows takes seconds instead of milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield
