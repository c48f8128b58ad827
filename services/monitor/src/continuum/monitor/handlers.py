"""Kafka subscribers: decode each message into its event, hand it to the :class:`Monitor`.

A message that is not the event its topic carries raises, so the broker factory's DLQ
middleware dead-letters it with the reason and the partition moves on.
"""

from __future__ import annotations

from typing import TypeVar

from faststream.kafka import KafkaBroker, KafkaMessage

from continuum.contracts import (
    Event,
    Feedback,
    ModelPromoted,
    PipelineChanged,
    PredictionLogged,
    decode_event,
)
from continuum.contracts.topics import FEEDBACK, MODELS_PROMOTED, PIPELINES_CHANGED, PREDICTIONS
from continuum.monitor.monitor import Monitor

E = TypeVar("E", bound=Event)


class WrongEventError(ValueError):
    """A message decoded to an event that does not belong on its topic."""


def decode_as(message: KafkaMessage, kind: type[E]) -> E:
    """The message's event, which must be a ``kind`` (raises for anything else)."""
    event = decode_event(message.body)
    if not isinstance(event, kind):
        raise WrongEventError(f"expected {kind.__name__}, got {type(event).__name__}")
    return event


def register_handlers(broker: KafkaBroker, monitor: Monitor, *, group_id: str) -> None:
    """Subscribe the monitor to its four topics in consumer group ``group_id``."""

    @broker.subscriber(PREDICTIONS, group_id=group_id, auto_offset_reset="earliest")
    async def on_prediction(message: KafkaMessage) -> None:
        await monitor.on_prediction(decode_as(message, PredictionLogged))

    @broker.subscriber(MODELS_PROMOTED, group_id=group_id, auto_offset_reset="earliest")
    async def on_promotion(message: KafkaMessage) -> None:
        await monitor.on_promotion(decode_as(message, ModelPromoted))

    @broker.subscriber(FEEDBACK, group_id=group_id, auto_offset_reset="earliest")
    async def on_feedback(message: KafkaMessage) -> None:
        await monitor.on_feedback(decode_as(message, Feedback))

    @broker.subscriber(PIPELINES_CHANGED, group_id=group_id, auto_offset_reset="earliest")
    async def on_pipeline_changed(message: KafkaMessage) -> None:
        await monitor.on_pipeline_changed(decode_as(message, PipelineChanged))
