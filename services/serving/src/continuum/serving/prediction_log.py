"""Every prediction becomes a ``PredictionLogged`` event, without slowing a request down.

The request path only appends a small tuple per prediction to a bounded in-memory
queue (``put_nowait``); when the queue is full the prediction is dropped and counted,
never waited for. One background task builds the events and publishes them to
``continuum.predictions`` in batches (each batch pipelined, then awaited once), so
Kafka being slow or down costs logged predictions, not answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any, NamedTuple

from faststream.kafka import KafkaBroker
from pydantic import JsonValue

from continuum.contracts import PredictionLogged
from continuum.kafka import publish_events
from continuum.serving.metrics import ServingMetrics
from continuum.serving.models import ServingModel

logger = logging.getLogger(__name__)

SOURCE = "continuum-serving"


class LoggedPrediction(NamedTuple):
    """What the request path queues per record (the event is built off the request path)."""

    model: ServingModel
    request_id: str
    record: dict[str, Any]
    prediction: JsonValue
    probabilities: dict[str, float] | None
    entity_id: str | None
    event_time: datetime | None
    occurred_at: datetime


def to_event(item: LoggedPrediction) -> PredictionLogged:
    """The event for one logged prediction."""
    model = item.model
    return PredictionLogged(
        pipeline=model.pipeline,
        # The promotion's correlation id: predictions stay on the model version's chain.
        correlation_id=model.correlation_id,
        occurred_at=item.occurred_at,
        request_id=item.request_id,
        model_version=model.version,
        features=model.validator.features_of(item.record),
        prediction=item.prediction,
        probabilities=item.probabilities,
        entity_id=item.entity_id,
        event_time=item.event_time,
    )


class PredictionLog:
    """The bounded queue and the task that drains it to Kafka."""

    def __init__(
        self,
        broker: KafkaBroker,
        metrics: ServingMetrics,
        *,
        max_size: int = 10_000,
        batch_size: int = 500,
    ) -> None:
        self.broker = broker
        self.metrics = metrics
        self.batch_size = batch_size
        self.queue: asyncio.Queue[LoggedPrediction] = asyncio.Queue(maxsize=max_size)
        self._task: asyncio.Task[None] | None = None
        metrics.log_queue_depth.set_function(self.queue.qsize)

    def offer(self, item: LoggedPrediction) -> bool:
        """Queue one prediction; when full, drop it, count it and return False."""
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.metrics.logs_dropped.labels(item.model.pipeline).inc()
            return False
        return True

    def start(self) -> None:
        """Start draining in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="prediction-log-drain")

    async def close(self, drain_seconds: float) -> None:
        """Publish what is queued (for up to ``drain_seconds``), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.queue.join(), drain_seconds)
        except TimeoutError:
            logger.warning("shutdown: %d prediction events not published", self.queue.qsize())
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            # Take what is already waiting: batches grow by themselves while Kafka is busy.
            while len(batch) < self.batch_size:
                try:
                    batch.append(self.queue.get_nowait())
                except asyncio.QueueEmpty:
                    break
            try:
                await self._publish(batch)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def _publish(self, batch: list[LoggedPrediction]) -> None:
        try:
            events = [to_event(item) for item in batch]
            await publish_events(self.broker, events, source=SOURCE)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.metrics.logs_failed.inc(len(batch))
            logger.warning("could not publish %d prediction events: %s", len(batch), exc)
        else:
            self.metrics.logs_published.inc(len(batch))
