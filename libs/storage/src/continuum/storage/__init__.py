"""Object storage chosen by URI scheme: ``file://`` (default) and ``memory://`` (tests).

Batches and model artifacts are immutable objects, referenced from events by URI
plus sha256; :func:`get_verified` is the way to read one back.
"""

from __future__ import annotations

from urllib.parse import urlparse

from continuum.storage.base import (
    IntegrityError,
    ObjectNotFoundError,
    ObjectStore,
    get_verified,
    sha256_hex,
    verify,
)
from continuum.storage.file_store import FileObjectStore, path_from_file_uri
from continuum.storage.memory_store import MemoryObjectStore


def open_store(root_uri: str) -> ObjectStore:
    """The store for ``root_uri``'s scheme (``file://``, ``memory://``)."""
    scheme = urlparse(root_uri).scheme
    if scheme == "file":
        return FileObjectStore(root_uri)
    if scheme == "memory":
        return MemoryObjectStore(root_uri)
    raise ValueError(
        f"unsupported storage scheme {scheme!r} in {root_uri!r}; use file:// or memory://"
    )


__all__ = [
    "FileObjectStore",
    "IntegrityError",
    "MemoryObjectStore",
    "ObjectNotFoundError",
    "ObjectStore",
    "get_verified",
    "open_store",
    "path_from_file_uri",
    "sha256_hex",
    "verify",
]
