"""The engine's lanes: opened from their newest manifest, dropped on revoke or rewind.

Opening a lane reads its newest manifest: the offsets up to there are in a written batch
(a re-read skips them), that batch's event is announced again (a crash may have come
between its write and its publish; the event id is deterministic, so this is
idempotent) and, for a pipeline with feature views, every view is brought up to date
with the lane's stored batches (:mod:`view_rebuild`: the fold a crash interrupted, or a
whole history when the state is gone or a view is new) before the lane takes records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from continuum.contracts import PipelineSpec
from continuum.ingest.catalog import Catalog
from continuum.ingest.feature_views import FeatureViewWriter
from continuum.ingest.lanes import Lane, TopicPartition
from continuum.ingest.manifest import ManifestStore
from continuum.ingest.metrics import IngestMetrics
from continuum.ingest.ports import EventPublisher

logger = logging.getLogger(__name__)


class LaneBook:
    """Open lanes by (pipeline, partition); mutated only under the engine's lock."""

    def __init__(
        self,
        catalog: Catalog,
        manifests: ManifestStore,
        publisher: EventPublisher,
        metrics: IngestMetrics,
        features: FeatureViewWriter | None,
    ) -> None:
        self.catalog = catalog
        self.manifests = manifests
        self.publisher = publisher
        self.metrics = metrics
        self.features = features
        self.lanes: dict[tuple[str, TopicPartition], Lane] = {}

    async def open(self, pipeline: str, tp: TopicPartition) -> Lane:
        """The lane of ``pipeline`` on ``tp``, opened from its manifest the first time."""
        lane = self.lanes.get((pipeline, tp))
        if lane is not None:
            return lane
        lane = Lane(pipeline, tp)
        manifest = await asyncio.to_thread(self.manifests.latest, pipeline, tp.topic, tp.partition)
        if manifest is not None:
            await self.publisher.publish([manifest.batch])
            self.metrics.republished.labels(pipeline).inc()
            lane.covered, lane.last_event = manifest.last_offset, manifest.batch
            entry = self.catalog.entries.get(pipeline)
            if self.features is not None and entry is not None and entry.record is not None:
                spec = entry.record.spec
                await asyncio.to_thread(self.features.recover, spec, manifest.batch)
        self.lanes[(pipeline, tp)] = lane
        return lane

    async def catch_up(self, spec: PipelineSpec) -> None:
        """Bring a spec's views up to date with the stored batches of its open lanes (a new
        spec version: its new or edited views have no state yet)."""
        if self.features is None or not spec.feature_views:
            return
        for lane in self.select(lambda lane: lane.pipeline == spec.name):
            tp = lane.tp
            try:
                await asyncio.to_thread(
                    self.features.catch_up, spec, spec.name, tp.topic, tp.partition
                )
            except Exception:  # the lane's next live fold catches up first (a backstop)
                logger.exception("could not rebuild the feature views of %s %s", spec.name, tp)

    def select(self, which: Callable[[Lane], bool]) -> list[Lane]:
        """The open lanes ``which`` picks."""
        return [lane for lane in self.lanes.values() if which(lane)]

    def drop(self, which: Callable[[Lane], bool]) -> None:
        """Forget the lanes ``which`` picks, buffered rows and all (not committed: re-read)."""
        for key, lane in list(self.lanes.items()):
            if which(lane):
                self.metrics.buffered_rows.labels(lane.pipeline).dec(lane.row_count)
                del self.lanes[key]

    def first_buffered(self, tp: TopicPartition) -> int | None:
        """The oldest offset of ``tp`` still only in memory (any pipeline), if any."""
        firsts = [
            lane.first_offset
            for lane in self.lanes.values()
            if lane.tp == tp and lane.first_offset is not None
        ]
        return min(firsts, default=None)

    def buffered_rows(self) -> int:
        """Rows waiting in memory across lanes."""
        return sum(lane.row_count for lane in self.lanes.values())
