"""Kafka subscribers: typed by the event each topic carries, handing it to the :class:`Monitor`.

A message that is not the event its topic carries fails validation, and one the broker
cannot verify (unsigned, or signed with another key) fails the broker's signature check,
so the broker factory's DLQ middleware dead-letters it with the reason and the partition
moves on. The predictions are consumed in batches and verified and decoded here one record
at a time, so that one bad or forged record is dead-lettered alone rather than with its
whole batch (a record is serving's ``PredictionsLogged``, many predictions under one
signature, or a single ``PredictionLogged``); so are the labels (Feedback, one per
prediction), which come from users' apps and are accepted unsigned (validated only).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import ValidationError

from continuum.contracts import (
    Event,
    Feedback,
    ModelPromoted,
    PipelineChanged,
    PredictionLogged,
    PredictionsLogged,
    RolloutChanged,
    RolloutEvaluated,
    UnverifiedEventError,
    decode_event,
)
from continuum.contracts.topics import (
    FEEDBACK,
    MODELS_PROMOTED,
    PIPELINES_CHANGED,
    PREDICTIONS,
    ROLLOUTS,
)
from continuum.kafka import dead_letters_of, keyring_of, verify_record
from continuum.monitor.monitor import Monitor

PREDICTION_BATCH = 500
FEEDBACK_BATCH = 500
YIELD_EVERY = 200
"""Records of a batch handled between two yields to the event loop (a message of many
predictions yields by itself): a batch must not keep ``/metrics`` and ``/health`` waiting
(a scrape times out after a second) while it is worked through."""

E = TypeVar("E", bound=Event)


class WrongEventError(ValueError):
    """A message decoded to an event that does not belong on its topic."""


def decode_bytes_as(body: bytes, kind: type[E]) -> E:
    """The event in ``body``, which must be a ``kind`` (raises for anything else)."""
    event = decode_event(body)
    if not isinstance(event, kind):
        raise WrongEventError(f"expected {kind.__name__}, got {type(event).__name__}")
    return event


def decode_prediction_bytes(body: bytes) -> PredictionLogged | PredictionsLogged:
    """A message of the predictions topic: serving's batches, or one prediction alone."""
    event = decode_event(body)
    if not isinstance(event, PredictionLogged | PredictionsLogged):
        raise WrongEventError(
            f"expected PredictionLogged or PredictionsLogged, got {type(event).__name__}"
        )
    return event


def register_handlers(broker: KafkaBroker, monitor: Monitor, *, group_id: str) -> None:
    """Subscribe the monitor to its five topics in consumer group ``group_id``."""

    # Predictions are the monitor's volume: consumed in batches so one offset commit covers
    # up to PREDICTION_BATCH records (one commit per record could not keep up with serving).
    # A record that does not decode is dead-lettered alone; the rest of its batch goes on.
    dead_letters = dead_letters_of(broker)
    keyring = keyring_of(broker)

    async def verified_events(
        message: KafkaMessage, decode: Callable[[bytes], E]
    ) -> AsyncIterator[E]:
        """Each record of a batch, verified and decoded; a bad one is dead-lettered alone.
        Yields to the event loop every ``YIELD_EVERY`` records (see its docstring)."""
        raw = message.raw_message
        for handled, record in enumerate(raw if isinstance(raw, (tuple, list)) else (raw,), 1):
            if handled % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                verify_record(keyring, record)
                event = decode(record.value)
            except (UnverifiedEventError, ValidationError, WrongEventError) as error:
                await dead_letters.send([record], error)
                continue
            yield event

    @broker.subscriber(
        PREDICTIONS,
        group_id=group_id,
        auto_offset_reset="earliest",
        batch=True,
        max_records=PREDICTION_BATCH,
        batch_timeout_ms=200,
    )
    async def on_predictions(message: KafkaMessage) -> None:
        async for event in verified_events(message, decode_prediction_bytes):
            if isinstance(event, PredictionsLogged):
                await monitor.on_prediction_batch(event)
                await asyncio.sleep(0)  # up to 500 predictions: a yield's worth on its own
            else:
                await monitor.on_prediction(event)

    @broker.subscriber(MODELS_PROMOTED, group_id=group_id, auto_offset_reset="earliest")
    async def on_promotion(event: ModelPromoted) -> None:
        await monitor.on_promotion(event)

    # Labels arrive at the rate predictions do (one per prediction): batched the same way.
    @broker.subscriber(
        FEEDBACK,
        group_id=group_id,
        auto_offset_reset="earliest",
        batch=True,
        max_records=FEEDBACK_BATCH,
        batch_timeout_ms=200,
    )
    async def on_feedback(message: KafkaMessage) -> None:
        async for event in verified_events(message, lambda body: decode_bytes_as(body, Feedback)):
            await monitor.on_feedback(event)

    @broker.subscriber(PIPELINES_CHANGED, group_id=group_id, auto_offset_reset="earliest")
    async def on_pipeline_changed(event: PipelineChanged) -> None:
        await monitor.on_pipeline_changed(event)

    # The rollouts topic carries the monitor's own RolloutEvaluated too: read and skipped.
    @broker.subscriber(ROLLOUTS, group_id=group_id, auto_offset_reset="earliest")
    async def on_rollout(event: RolloutChanged | RolloutEvaluated) -> None:
        if isinstance(event, RolloutChanged):
            await monitor.on_rollout(event)
