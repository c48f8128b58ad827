"""The online store for real deployments: Redis (``redis://host:port/db``).

One hash per (view, entity) under ``continuum:features:<view>:<entity>`` holding
``as_of`` (epoch microseconds) and ``values`` (JSON). A batch is written by one Lua
script call per chunk, which compares ``as_of`` on the server, so a replayed (older)
write changes nothing and a write is atomic per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from continuum.featurestore.base import (
    FeatureRow,
    as_of_micros,
    decode_values,
    encode_values,
    from_micros,
    newest_per_entity,
)

KEY_PREFIX = "continuum:features:"

# Epoch microseconds (~1.7e15) are exact as Lua numbers (doubles, exact below 2**53).
UPSERT_NEWER = """
for i, key in ipairs(KEYS) do
  local as_of = ARGV[2 * i - 1]
  local held = redis.call('HGET', key, 'as_of')
  if (not held) or tonumber(held) <= tonumber(as_of) then
    redis.call('HSET', key, 'as_of', as_of, 'values', ARGV[2 * i])
  end
end
return #KEYS
"""

CHUNK = 1000
"""Rows per script call / read pipeline: bounds one call's time on the server."""


def entity_redis_key(view: str, entity: str) -> str:
    """The hash holding one entity's row of ``view``."""
    return f"{KEY_PREFIX}{view}:{entity}"


class RedisOnlineStore:
    """Rows in Redis hashes, written by a server-side compare-and-set script."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._upsert: Any = client.register_script(UPSERT_NEWER)

    @classmethod
    def from_uri(cls, uri: str) -> RedisOnlineStore:
        """The store of ``redis://host:port/db`` (``rediss://`` for TLS)."""
        return cls(redis.Redis.from_url(uri, socket_timeout=10.0, socket_connect_timeout=10.0))

    def write(self, view: str, rows: Sequence[FeatureRow]) -> None:
        """Upsert ``rows``; rows older than the stored ones are ignored (on the server)."""
        newest = list(newest_per_entity(rows).values())
        for start in range(0, len(newest), CHUNK):
            chunk = newest[start : start + CHUNK]
            keys = [entity_redis_key(view, row.entity) for row in chunk]
            args: list[str | int] = []
            for row in chunk:
                args += [as_of_micros(row.as_of), encode_values(row.values)]
            self._upsert(keys=keys, args=args)

    def read(self, view: str, entities: Sequence[str]) -> dict[str, FeatureRow]:
        """The stored rows of ``entities`` (absent if never written)."""
        wanted = list(dict.fromkeys(entities))
        found: dict[str, FeatureRow] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            pipe = self.client.pipeline(transaction=False)
            for entity in chunk:
                pipe.hmget(entity_redis_key(view, entity), ["as_of", "values"])
            for entity, (as_of, values) in zip(chunk, pipe.execute(), strict=True):
                if as_of is not None and values is not None:
                    found[entity] = FeatureRow(
                        entity, from_micros(int(as_of)), decode_values(values)
                    )
        return found

    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        self.client.close()
