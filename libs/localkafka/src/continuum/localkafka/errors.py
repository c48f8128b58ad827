"""Errors raised by continuum.localkafka.

Every error is a :class:`LocalKafkaError` whose message is meant to be shown to a person
as is (the CLI prints it in red without a traceback), so messages say what to do next.
"""

from __future__ import annotations


class LocalKafkaError(RuntimeError):
    """Base class of every error this package raises on purpose."""


class MissingToolError(LocalKafkaError):
    """``java`` or ``mvn`` is missing or too old; the message says what to install."""


class PomNotFoundError(LocalKafkaError):
    """``deploy/kafka/pom.xml`` could not be located."""


class JarResolutionError(LocalKafkaError):
    """Maven failed to resolve the Kafka jars."""


class KafkaStartError(LocalKafkaError):
    """The broker did not become reachable; carries the broker log tail."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        self.log_tail = log_tail
        text = message
        if log_tail:
            text = f"{message}\n--- broker log (last lines) ---\n{log_tail}"
        super().__init__(text)
