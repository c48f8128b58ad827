"""Per-partition manifests: which source offsets are already in a written batch.

One batch covers one (pipeline, topic, partition) "lane". After its Parquet bytes are
durable and before its event is published, ingest writes a manifest naming the last
source offset the batch covers and the full batch event. On start (and on partition
assignment) the newest manifest of each lane tells ingest which messages to skip (a
crash after the write but before the offset commit must not duplicate rows) and which
event to publish again (a crash between the write and the publish must not lose it;
the event id is deterministic, so consumers drop the duplicate).

Objects in the store are immutable, so manifests are append-only: one object per batch
under ``manifests/<pipeline>/<topic>-<partition>/<last offset, zero-padded>.json``; the
newest is the last key in sort order. A batch always lives in one lane, so one object
records it atomically, and only the consumer owning the partition writes that lane.
"""

from __future__ import annotations

from pydantic import Field

from continuum.contracts import Contract, DataBatchReady
from continuum.storage import ObjectStore

OFFSET_DIGITS = 20


class LaneManifest(Contract):
    """The newest batch of one lane and the last source offset it covers."""

    pipeline: str
    topic: str
    partition: int = Field(ge=0)
    last_offset: int = Field(ge=0, description="Every message up to here is durable.")
    batch: DataBatchReady


def lane_prefix(pipeline: str, topic: str, partition: int) -> str:
    """The key prefix of one lane's manifests."""
    return f"manifests/{pipeline}/{topic}-{partition}/"


def manifest_key(manifest: LaneManifest) -> str:
    """Where ``manifest`` is stored (sortable by offset)."""
    prefix = lane_prefix(manifest.pipeline, manifest.topic, manifest.partition)
    return f"{prefix}{manifest.last_offset:0{OFFSET_DIGITS}d}.json"


class ManifestStore:
    """Reads and appends lane manifests in an object store (blocking; call in a thread)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def record(self, manifest: LaneManifest) -> None:
        """Durably store ``manifest`` (idempotent for identical content)."""
        self.store.put(manifest_key(manifest), manifest.model_dump_json().encode())

    def history(self, pipeline: str, topic: str, partition: int) -> list[tuple[int, str]]:
        """Every manifest of a lane as (last offset, key), oldest first (keys only: cheap)."""
        prefix = lane_prefix(pipeline, topic, partition)
        found = []
        for key in self.store.list(prefix):
            stem = key[len(prefix) :].removesuffix(".json")
            if key.endswith(".json") and stem.isdigit():
                found.append((int(stem), key))
        return sorted(found)

    def read(self, key: str) -> LaneManifest:
        """The manifest stored at ``key``."""
        return LaneManifest.model_validate_json(self.store.get(self.store.uri_for(key)))

    def latest(self, pipeline: str, topic: str, partition: int) -> LaneManifest | None:
        """The newest manifest of a lane, or ``None`` if it never had a batch."""
        history = self.history(pipeline, topic, partition)
        return self.read(history[-1][1]) if history else None
