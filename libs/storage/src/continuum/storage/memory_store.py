"""``memory://`` object store: the fake for unit tests (same contract, no disk)."""

from __future__ import annotations

from typing import ClassVar

from continuum.contracts import StoredObject
from continuum.storage.base import ObjectNotFoundError, sha256_hex, verify


class MemoryObjectStore:
    """Objects in a dict. Stores opened with the same ``memory://name`` share contents."""

    _shared: ClassVar[dict[str, dict[str, bytes]]] = {}

    def __init__(self, root_uri: str = "memory://default") -> None:
        self.root_uri = root_uri.rstrip("/")
        self.objects = self._shared.setdefault(self.root_uri, {})

    def uri_for(self, key: str) -> str:
        return f"{self.root_uri}/{key}"

    def put(self, key: str, data: bytes) -> StoredObject:
        uri = self.uri_for(key)
        if key in self.objects and self.objects[key] != data:
            raise FileExistsError(f"{uri} exists with different content (objects are immutable)")
        self.objects[key] = bytes(data)
        return StoredObject(uri=uri, sha256=sha256_hex(data), size_bytes=len(data))

    def get(self, uri: str, expected_sha256: str | None = None) -> bytes:
        prefix = self.root_uri + "/"
        if not uri.startswith(prefix) or uri[len(prefix) :] not in self.objects:
            raise ObjectNotFoundError(uri)
        data = self.objects[uri[len(prefix) :]]
        return verify(data, expected_sha256, uri) if expected_sha256 else data

    def exists(self, key: str) -> bool:
        return key in self.objects

    def list(self, prefix: str = "") -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))

    @classmethod
    def reset_all(cls) -> None:
        """Forget every shared in-memory store (between tests)."""
        cls._shared.clear()
