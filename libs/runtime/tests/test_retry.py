from __future__ import annotations

import pytest

from continuum.runtime import retry
from continuum.runtime.retry import Backoff, TransientError, any_error, is_transient, retrying


def test_backoff_doubles_from_the_first_wait_up_to_the_cap() -> None:
    backoff = Backoff(first_seconds=0.5, max_seconds=3.0)
    assert [backoff.delay(n) for n in range(0, 6)] == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(10_000) == 3.0  # a long outage does not overflow


def test_a_transient_cause_makes_an_error_transient() -> None:
    try:
        try:
            raise ConnectionError("down")
        except ConnectionError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    assert is_transient(TransientError("busy"))
    assert not is_transient(ValueError("bad"))


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


async def test_retrying_waits_the_backoff_between_transient_failures() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    call = Flaky([ConnectionError("a"), TimeoutError("b"), TransientError("c")])
    result = await retrying(call, what="test", backoff=Backoff(1.0, 3.0), sleep=sleep)
    assert (result, call.calls, waits) == ("done", 4, [1.0, 2.0, 3.0])


async def test_retrying_raises_other_errors_at_once_and_the_last_after_the_attempts() -> None:
    async def sleep(seconds: float) -> None:
        pass

    with pytest.raises(ValueError, match="bad"):
        await retrying(Flaky([ValueError("bad")]), what="test", sleep=sleep)
    call = Flaky([ConnectionError("1"), ConnectionError("2"), ConnectionError("3")])
    with pytest.raises(ConnectionError, match="2"):
        await retrying(call, what="test", attempts=2, sleep=sleep)
    assert call.calls == 2
    everything = Flaky([ValueError("bad")])
    assert await retrying(everything, what="test", retryable=any_error, sleep=sleep) == "done"


async def test_retrying_gives_up_when_the_next_wait_would_pass_the_time_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    waits: list[float] = []
    monkeypatch.setattr(retry, "monotonic", lambda: now[0])

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    call = Flaky([ConnectionError(str(n)) for n in range(10)])
    with pytest.raises(ConnectionError):
        await retrying(
            call, what="test", backoff=Backoff(10.0, 10.0), within_seconds=25.0, sleep=sleep
        )
    # Two waits of 10 s fit in 25 s; a third would end after it.
    assert waits == [10.0, 10.0]
