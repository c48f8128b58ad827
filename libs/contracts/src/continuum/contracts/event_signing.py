"""Signed events: an HMAC-SHA256 over the payload and the CloudEvents identity headers.

Every internal event travels with a ``ce_signature`` header (a CloudEvents extension
attribute): ``hmac-sha256=<hex>`` over the exact value bytes plus ``ce_type``, ``ce_id``,
``ce_source`` and ``ce_time``, keyed with the deployment's event key. A consumer refuses
what it cannot verify, so writing to a Continuum topic is no longer enough to be believed.

One key per deployment: a valid signature says "sent by a holder of the deployment key"
(a Continuum service), and ``ce_source`` names which one; which principal may write
which topic is Kafka's ACLs' business. Rotation: a keyring signs with one key and
accepts a few (the new key first, the old ones until every producer has moved on).

Not signed (see :data:`UNSIGNED_TOPICS`): records users' apps write to a pipeline's
source topic, and ``Feedback``. Both are user input from outside the deployment; they
are validated (record rules, the ``Feedback`` contract) instead.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from continuum.contracts.topics import DLQ_SUFFIX, FEEDBACK

SIGNATURE_HEADER: Final = "ce_signature"
SIGNATURE_SCHEME: Final = "hmac-sha256="
SIGNED_HEADERS: Final[tuple[str, ...]] = ("ce_type", "ce_id", "ce_source", "ce_time")
"""The identity headers the signature covers, besides the value bytes."""

MIN_KEY_BYTES: Final = 16
"""A shorter key is refused: it would be guessable offline from one signed event."""

UNSIGNED_TOPICS: Final = frozenset({FEEDBACK})
"""Continuum topics whose messages come from users' apps and are accepted unsigned."""

_DOMAIN: Final = b"continuum-event-v1\n"
_COVERED: Final = frozenset({*SIGNED_HEADERS, SIGNATURE_HEADER})


class UnverifiedEventError(ValueError):
    """A message lacks a valid signature; consumers dead-letter it with this reason."""


def needs_signature(topic: str) -> bool:
    """Whether a consumer must verify messages read from ``topic``.

    Dead letters keep their original headers and are read by operators, not services.
    """
    return topic not in UNSIGNED_TOPICS and not topic.endswith(DLQ_SUFFIX)


def signing_input(value: bytes, headers: Mapping[str, str]) -> bytes:
    """The bytes a signature covers: each identity header, length-prefixed, then the value.

    Length prefixes keep the encoding unambiguous whatever a header contains.
    """
    parts = [_DOMAIN]
    for name in SIGNED_HEADERS:
        if name not in headers:
            raise UnverifiedEventError(f"missing header {name}")
        encoded = headers[name].encode()
        parts.append(b"%d:%s\n" % (len(encoded), encoded))
    parts.append(value)
    return b"".join(parts)


def _digest(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class EventKeyring:
    """Signs with ``signing``; verifies with ``signing`` or any of ``previous``."""

    signing: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for key in (self.signing, *self.previous):
            if len(key) < MIN_KEY_BYTES:
                raise ValueError(f"an event key needs at least {MIN_KEY_BYTES} bytes")

    @classmethod
    def of(cls, keys: Sequence[str]) -> EventKeyring:
        """A keyring from text keys: the first signs, the rest are still accepted."""
        if not keys:
            raise ValueError("an event keyring needs at least one key")
        first, *rest = (key.encode() for key in keys)
        return cls(signing=first, previous=tuple(rest))

    @property
    def accepted(self) -> tuple[bytes, ...]:
        """Every key a signature may have been made with, the signing key first."""
        return (self.signing, *self.previous)

    def signature(self, value: bytes, headers: Mapping[str, str]) -> str:
        """The ``ce_signature`` header value for ``value`` sent with ``headers``."""
        return SIGNATURE_SCHEME + _digest(self.signing, signing_input(value, headers))

    def sign(self, value: bytes, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` plus their signature."""
        return {**headers, SIGNATURE_HEADER: self.signature(value, headers)}

    def verify(self, value: bytes, headers: Mapping[str, str]) -> None:
        """Raise :class:`UnverifiedEventError` (saying why) unless an accepted key signed this."""
        signature = headers.get(SIGNATURE_HEADER)
        if signature is None:
            raise UnverifiedEventError(f"unsigned event: no {SIGNATURE_HEADER} header")
        if not signature.startswith(SIGNATURE_SCHEME):
            raise UnverifiedEventError(f"unknown signature scheme in {SIGNATURE_HEADER}")
        claimed = signature.removeprefix(SIGNATURE_SCHEME)
        message = signing_input(value, headers)
        # Every key is tried (no early exit), so timing does not tell which one matched.
        matches = [hmac.compare_digest(_digest(key, message), claimed) for key in self.accepted]
        if not any(matches):
            raise UnverifiedEventError("bad signature: no accepted event key signed this event")

    def verify_kafka(self, value: bytes | None, headers: Iterable[tuple[str, bytes]]) -> None:
        """:meth:`verify` for a record as Kafka clients hand it over (headers as bytes)."""
        decoded: dict[str, str] = {}
        for name, raw in headers:
            if name in decoded and name in _COVERED:
                # Two values for one signed header: which a reader believes is ambiguous.
                raise UnverifiedEventError(f"header {name} appears twice")
            try:
                decoded[name] = raw.decode()
            except UnicodeDecodeError:
                raise UnverifiedEventError(f"header {name} is not UTF-8") from None
        self.verify(value or b"", decoded)
