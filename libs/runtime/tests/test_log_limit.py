"""RepeatLimit: a repeated warning is written once per interval, with the count of repeats."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from continuum.runtime import RepeatLimit, limit_repeats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logged(clock: Clock) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A private logger writing ``LEVEL name: message`` lines through a RepeatLimit."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatLimit(10.0, clock=clock))
    logger = logging.getLogger("test.log_limit.aiokafka")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_a_thousand_identical_errors_in_one_interval_are_one_line(
    logged: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    logger, stream = logged
    for _ in range(1000):
        logger.error("Unable connect to node with id %s: %s", 1, "Connect call failed")
        clock.now += 0.005  # 1,000 records in 5 s
    assert lines(stream) == [
        "ERROR test.log_limit.aiokafka: Unable connect to node with id 1: Connect call failed"
    ]


def test_the_first_line_after_the_interval_names_the_repeats(
    logged: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    logger, stream = logged
    for i in range(3000):  # 30 s of an outage at 100 records/s
        clock.now = 1000.0 + i / 100
        logger.error("Unable connect to node with id %s: %s", 1, "refused")
    written = lines(stream)
    assert len(written) == 3
    assert written[0].endswith("refused")
    # Each later line stands for itself and the 999 records suppressed before it.
    assert written[1].endswith("refused (repeated 999 times in 10 s)")
    assert written[2].endswith("refused (repeated 999 times in 10 s)")


def test_counts_are_written_with_thousands_separators(
    logged: tuple[logging.Logger, io.StringIO], clock: Clock
) -> None:
    logger, stream = logged
    for _ in range(1235):
        logger.warning("Heartbeat failed: %r", "KafkaConnectionError")
    clock.now += 12
    logger.warning("Heartbeat failed: %r", "KafkaConnectionError")
    assert lines(stream)[-1].endswith("(repeated 1,234 times in 12 s)")


def test_kinds_are_limited_separately_by_template_logger_and_level(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    other = logger.getChild("conn")
    for node in range(50):
        logger.error("Unable connect to node with id %s", node)
        logger.error("Failed fetch messages from %s", node)
        logger.warning("Unable connect to node with id %s", node)
        other.error("Unable connect to node with id %s", node)
    assert len(lines(stream)) == 4


def test_info_and_debug_lines_are_never_thinned(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    for i in range(100):
        logger.info("batch %s written", i)
        logger.debug("polled %s", i)
    assert len(lines(stream)) == 200


def test_limit_repeats_installs_one_filter_per_handler_once() -> None:
    logger = logging.getLogger("test.log_limit.install")
    handlers = [logging.StreamHandler(io.StringIO()), logging.StreamHandler(io.StringIO())]
    for handler in handlers:
        logger.addHandler(handler)
    try:
        first = limit_repeats(logger)
        again = limit_repeats(logger)
        assert again is first
        assert all(handler.filters == [first] for handler in handlers)
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
