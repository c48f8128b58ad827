"""The object-store interface: immutable bytes under keys, each checked by sha256."""

from __future__ import annotations

import hashlib
from typing import Protocol, runtime_checkable

from continuum.contracts import StoredObject


class IntegrityError(Exception):
    """Stored bytes do not match the sha256 the caller expected: refuse to use them."""


class ObjectNotFoundError(FileNotFoundError):
    """No object at that key or URI."""


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def verify(data: bytes, expected_sha256: str, where: str) -> bytes:
    """Return ``data`` if it hashes to ``expected_sha256``, else raise :class:`IntegrityError`."""
    actual = sha256_hex(data)
    if actual != expected_sha256:
        raise IntegrityError(f"{where}: sha256 is {actual}, expected {expected_sha256}")
    return data


@runtime_checkable
class ObjectStore(Protocol):
    """Where batches and artifacts live. Implementations are chosen by URI scheme."""

    root_uri: str

    def uri_for(self, key: str) -> str:
        """The URI an object stored under ``key`` has (or would have)."""
        ...

    def put(self, key: str, data: bytes) -> StoredObject:
        """Store ``data`` under ``key`` durably and atomically; returns its URI and sha256.

        Putting identical bytes again is a no-op (idempotent replays); different bytes
        under an existing key raise :class:`FileExistsError` (objects are immutable).
        """
        ...

    def get(self, uri: str, expected_sha256: str | None = None) -> bytes:
        """Read the object at ``uri``; with ``expected_sha256``, verify it first."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""
        ...

    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix``, sorted."""
        ...


def get_verified(store: ObjectStore, obj: StoredObject) -> bytes:
    """Read a referenced object and check its sha256 (the only safe way to load bytes)."""
    return store.get(obj.uri, expected_sha256=obj.sha256)
