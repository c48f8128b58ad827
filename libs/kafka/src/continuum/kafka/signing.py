"""Event signatures on the broker: the deployment key from settings, the consumer check.

Every broker from :func:`continuum.kafka.build_broker` signs what ``publish_event`` sends
and refuses, before any handler runs, a message it cannot verify: the check raises
:class:`~continuum.contracts.UnverifiedEventError` inside the dead-letter middleware's
scope, so the message goes to ``<topic>.dlq`` with the reason, its offset is committed
and the partition moves on. Batch subscribers see a batch here, not records: they verify
each record themselves with :func:`verify_record`, so one forged record is dead-lettered
alone.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from faststream import BaseMiddleware

from continuum.contracts import EventKeyring, UnverifiedEventError, needs_signature
from continuum.kafka.settings import KafkaSettings

if TYPE_CHECKING:
    from aiokafka import ConsumerRecord
    from faststream._internal.basic_types import AsyncFuncAny
    from faststream._internal.context.repository import ContextRepo
    from faststream.kafka import KafkaBroker
    from faststream.message import StreamMessage

KEY_VARIABLES = "CONTINUUM_KAFKA_EVENT_KEY or CONTINUUM_KAFKA_EVENT_KEY_FILE"

_KEYRINGS: weakref.WeakKeyDictionary[KafkaBroker, EventKeyring] = weakref.WeakKeyDictionary()


class EventKeyError(ValueError):
    """The deployment's event key is missing or unusable; the service cannot start."""


def keyring_from(settings: KafkaSettings) -> EventKeyring:
    """The keyring the settings name: the key (or the key file's first line) signs; older
    keys (``event_keys_previous``, or the file's further lines) are still accepted."""
    if settings.event_key is not None and settings.event_key_file is not None:
        raise EventKeyError(f"set only one of {KEY_VARIABLES}")
    if settings.event_key is not None:
        keys = [settings.event_key.get_secret_value().strip()]
    elif settings.event_key_file is not None:
        try:
            text = settings.event_key_file.read_text()
        except OSError as error:
            raise EventKeyError(f"cannot read the event key file: {error}") from None
        keys = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        raise EventKeyError(
            f"{KEY_VARIABLES} is required: every event is signed with the deployment's key "
            "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    if settings.event_keys_previous is not None:
        previous = settings.event_keys_previous.get_secret_value().split(",")
        keys += [key.strip() for key in previous if key.strip()]
    try:
        return EventKeyring.of(keys)
    except ValueError as error:
        raise EventKeyError(f"{KEY_VARIABLES}: {error}") from None


def remember_keyring(broker: KafkaBroker, keyring: EventKeyring) -> None:
    """Make ``keyring`` the one ``broker`` signs and verifies with."""
    _KEYRINGS[broker] = keyring


def keyring_of(broker: KafkaBroker) -> EventKeyring:
    """The keyring of a broker from ``build_broker`` (raises for any other broker)."""
    try:
        return _KEYRINGS[broker]
    except KeyError:
        raise LookupError("this broker has no event key: build it with build_broker") from None


def verify_record(keyring: EventKeyring, record: ConsumerRecord[Any, Any]) -> None:
    """Raise :class:`UnverifiedEventError` unless ``record`` is signed or needs no signature."""
    if needs_signature(record.topic):
        keyring.verify_kafka(record.value, record.headers or ())


class SignatureCheck:
    """Middleware factory, inside the dead-letter middleware: unverified messages fail."""

    def __init__(self, keyring: EventKeyring) -> None:
        self.keyring = keyring

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> _SignatureScope:
        return _SignatureScope(msg, context=context, keyring=self.keyring)


class _SignatureScope(BaseMiddleware):
    def __init__(self, msg: Any, /, *, context: ContextRepo, keyring: EventKeyring) -> None:
        super().__init__(msg, context=context)
        self.keyring = keyring

    async def consume_scope(self, call_next: AsyncFuncAny, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message
        if not isinstance(raw, (tuple, list)):
            verify_record(self.keyring, raw)
        return await call_next(msg)


__all__ = [
    "EventKeyError",
    "SignatureCheck",
    "UnverifiedEventError",
    "keyring_from",
    "keyring_of",
    "remember_keyring",
    "verify_record",
]
