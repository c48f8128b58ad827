"""Every prediction is logged to ``continuum.predictions``, without slowing a request down.

The request path appends one tuple per request (not per prediction) to a bounded queue
counted in predictions; what does not fit is dropped and counted, never waited for. One
background task takes up to ``batch_size`` queued predictions at a time, turns them into
``PredictionsLogged`` messages (one per model, serialized once, signed once, see
:mod:`continuum.serving.log_encoding`) and hands them to the producer without waiting for
each acknowledgement: up to ``MAX_IN_FLIGHT`` messages are in flight while the next batch
is built. Acknowledged predictions count as published, refused ones as failed. So Kafka
being slow or down costs logged predictions (counted), never answers; at serving's peak
rate the queue stays short and nothing is dropped.

The counters count predictions, not messages: published + dropped + failed (+ queued)
is the number of predictions served (``bench/quality/settle.py`` relies on it). Shadow
predictions are logged too (``arm="shadow"``) and count the same way.

Records a candidate or shadow model failed are not predictions of it (a canary's were
answered by the champion, logged on its arm): :meth:`PredictionLog.count_errors` keeps
them, and the arm's next message carries them in ``errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from typing import Any

from faststream.kafka import KafkaBroker

from continuum.contracts import KafkaRecord
from continuum.kafka import keyring_of
from continuum.serving.log_encoding import (
    ArmBatch,
    LoggedRequest,
    by_model,
    encode_rows,
    rows_of,
)
from continuum.serving.metrics import PipelineCounter, ServingMetrics
from continuum.serving.models import ServingModel

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 16
"""Messages handed to the producer and not yet acknowledged, at most."""


class PredictionLog:
    """The bounded queue and the task that drains it to Kafka."""

    def __init__(
        self,
        broker: KafkaBroker,
        metrics: ServingMetrics,
        *,
        max_size: int,
        batch_size: int,
    ) -> None:
        """``max_size`` and ``batch_size``: ``ServingSettings.log_queue_size`` and
        ``log_batch_size`` (their defaults live there)."""
        self.broker = broker
        self.metrics = metrics
        self.max_size = max_size
        self.batch_size = batch_size
        self.queued = 0
        """Predictions waiting to be encoded and sent."""
        self._pending: deque[LoggedRequest] = deque()
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Future[Any]] = set()
        self._dropped = PipelineCounter(metrics.logs_dropped)
        # Failures not yet reported, by pipeline, version, arm and rollout.
        self._errors: dict[tuple[str, int, str, str | None], int] = {}
        self._task: asyncio.Task[None] | None = None
        metrics.log_queue_depth.set_function(lambda: self.queued)

    def offer(self, request: LoggedRequest) -> int:
        """Queue a request's predictions; what does not fit is dropped and counted.

        Returns how many were queued. Never waits.
        """
        room = self.max_size - self.queued
        count = request.logged
        if count > room:
            self._dropped.inc(request.model.pipeline, count - max(room, 0))
            if room <= 0:
                return 0
            request = request._replace(logged=room)
            count = room
        self._pending.append(request)
        self.queued += count
        self._wake.set()
        return count

    def count_errors(self, model: ServingModel, rollout_id: str | None, count: int) -> None:
        """Report ``count`` records ``model`` failed in its arm's next message."""
        key = (model.pipeline, model.version, model.arm, rollout_id)
        self._errors[key] = self._errors.get(key, 0) + count

    def start(self) -> None:
        """Start draining in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="prediction-log-drain")

    async def close(self, drain_seconds: float) -> None:
        """Publish what is queued (for up to ``drain_seconds``), then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._flushed(), drain_seconds)
        except TimeoutError:
            logger.warning("shutdown: %d prediction events not published", self.queued)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _flushed(self) -> None:
        while self.queued or self._in_flight:
            if self._in_flight:
                await asyncio.wait(set(self._in_flight))
            else:
                await asyncio.sleep(0.005)

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._take()
            try:
                await self._publish(batch)
            finally:
                self.queued -= sum(request.logged for request in batch)

    def _take(self) -> list[LoggedRequest]:
        # Whole requests, up to batch_size predictions (a bigger request goes alone).
        batch = [self._pending.popleft()]
        size = batch[0].logged
        while self._pending and size + self._pending[0].logged <= self.batch_size:
            request = self._pending.popleft()
            batch.append(request)
            size += request.logged
        return batch

    async def _publish(self, batch: list[LoggedRequest]) -> None:
        keyring = keyring_of(self.broker)
        for model, rollout_id, requests in by_model(batch):
            rows = [row for request in requests for row in rows_of(request)]
            seconds = sum(request.seconds for request in requests)
            key = (model.pipeline, model.version, model.arm, rollout_id)
            errors = self._errors.pop(key, 0) if self._errors else 0
            arm = ArmBatch(model, rollout_id, seconds, errors)
            for record, count in encode_rows(arm, rows, keyring):
                await self._send(record, count)

    async def _send(self, record: KafkaRecord, count: int) -> None:
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)
        try:
            sent: Any = await self.broker.publish(
                record.value,
                topic=record.topic,
                key=record.key,
                headers=record.headers,
                no_confirm=True,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(count, exc)
            return
        # A real producer returns a delivery future; the in-memory test broker returns None.
        if not inspect.isawaitable(sent):
            self.metrics.logs_published.inc(count)
            return
        future = asyncio.ensure_future(sent)
        self._in_flight.add(future)
        future.add_done_callback(lambda done: self._acknowledged(done, count))

    def _acknowledged(self, future: asyncio.Future[Any], count: int) -> None:
        self._in_flight.discard(future)
        if future.cancelled():
            self._failed(count, asyncio.CancelledError())
        elif (exc := future.exception()) is not None:
            self._failed(count, exc)
        else:
            self.metrics.logs_published.inc(count)

    def _failed(self, count: int, exc: BaseException) -> None:
        self.metrics.logs_failed.inc(count)
        logger.warning("could not publish %d prediction events: %s", count, exc)
