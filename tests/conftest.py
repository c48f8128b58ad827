"""Session fixtures shared by the integration tests.

Keep this file small: other fixtures belong in their own plugin modules.
"""

from collections.abc import Iterator

import pytest

from continuum.localkafka import LocalKafka, LocalKafkaError, RunningKafka


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningKafka]:
    """A real single-node Kafka broker on a free port, for the whole test session.

    Never skipped: if the broker cannot start, the session fails with the broker's log.
    """
    local = LocalKafka(tmp_path_factory.mktemp("kafka"))
    try:
        running = local.start(port=0)
    except LocalKafkaError as exc:
        local.stop(timeout=10)
        pytest.fail(f"could not start the local Kafka broker:\n{exc}", pytrace=False)
    yield running
    running.stop()
