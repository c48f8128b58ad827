"""What serving consumes: promotions (switch models), pipeline changes (learn pipelines)
and rollouts (route a share of requests to a candidate, or copy them to a shadow).

Consumer group: each replica uses its OWN group, ``continuum-serving-<instance id>``.
A shared group would split the partitions between replicas, so a promotion would reach
only one of them and the others would keep answering with the old model. Kafka delivers
every message to every group, so per-replica groups make promotions a broadcast.

Offsets start at ``latest``: a fresh group must not replay months of promotions (a
replayed rollback would briefly serve an old model). What happened before the replica
started is read from the registry instead (the initial sync, started after the
consumers), and a periodic reconcile repairs any event lost in between.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from continuum.contracts import ModelPromoted, PipelineChanged, RolloutChanged, RolloutEvaluated
from continuum.contracts.topics import MODELS_PROMOTED, PIPELINES_CHANGED, ROLLOUTS
from continuum.serving.manager import ModelManager


def register_subscribers(broker: KafkaBroker, manager: ModelManager, *, group_id: str) -> None:
    """Subscribe ``manager`` to promotions, pipeline changes and rollouts, with this
    replica's group."""

    @broker.subscriber(MODELS_PROMOTED, group_id=group_id, auto_offset_reset="latest")
    async def on_model_promoted(event: ModelPromoted) -> None:
        await manager.on_promoted(event)

    @broker.subscriber(PIPELINES_CHANGED, group_id=group_id, auto_offset_reset="latest")
    async def on_pipeline_changed(event: PipelineChanged) -> None:
        await manager.on_pipeline_changed(event)

    @broker.subscriber(ROLLOUTS, group_id=group_id, auto_offset_reset="latest")
    async def on_rollout(event: RolloutChanged | RolloutEvaluated) -> None:
        # The topic also carries the monitor's verdicts, which are the registry's business.
        if isinstance(event, RolloutChanged):
            await manager.rollouts.on_changed(event)
