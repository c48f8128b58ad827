"""The online feature store, chosen by URI like the object store.

``sqlite:///abs/path.db`` (the embedded default, WAL so one process writes while others
read), ``redis://host:port/db`` (real deployments) and ``memory://`` (unit tests).
Ingest writes each view's newest values per entity; serving reads them per request.
"""

from __future__ import annotations

from urllib.parse import urlparse

from continuum.featurestore.async_store import AsyncOnlineStore
from continuum.featurestore.base import FeatureRow, FeatureValue, OnlineStore, view_key
from continuum.featurestore.memory_store import MemoryOnlineStore


def open_online_store(uri: str) -> OnlineStore:
    """The online store for ``uri``'s scheme (``sqlite://``, ``redis://``, ``memory://``)."""
    scheme = urlparse(uri).scheme
    if scheme == "memory":
        return MemoryOnlineStore()
    if scheme == "sqlite":
        from continuum.featurestore.sqlite_store import SqliteOnlineStore

        return SqliteOnlineStore.from_uri(uri)
    if scheme in ("redis", "rediss"):
        from continuum.featurestore.redis_store import RedisOnlineStore

        return RedisOnlineStore.from_uri(uri)
    raise ValueError(
        f"unsupported online store scheme {scheme!r} in {uri!r};"
        " use sqlite:///abs/path.db, redis://host:port/db or memory://"
    )


__all__ = [
    "AsyncOnlineStore",
    "FeatureRow",
    "FeatureValue",
    "MemoryOnlineStore",
    "OnlineStore",
    "open_online_store",
    "view_key",
]
