"""Shadow predictions: the candidate predicts copies of live requests, off the request path.

During a shadow rollout the champion answers every request; the request path only
appends the request's checked records to a bounded queue (counted in records) and never
waits. One background task hands whatever is queued to the candidate's micro-batcher
together (so they coalesce into one pipeline call), and logs each answer with
``arm="shadow"`` under the request id the client got, so the monitor can pair the two
arms' predictions. What does not fit in the queue is dropped and counted
(``continuum_serving_shadow_dropped_total``), and so is every copy that would fill the
prediction log past half (a shadow doubles what is logged; measured at full load on one
core, the log then dropped 40% of all predictions, the champion's included). A record the
candidate fails is counted in the shadow arm's errors. Nothing here can fail or slow a
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, NamedTuple

from continuum.contracts import utc_now
from continuum.serving.inference import Inferred
from continuum.serving.log_encoding import LoggedRequest
from continuum.serving.metrics import PipelineCounter, ServingMetrics
from continuum.serving.models import Rollout
from continuum.serving.prediction_log import PredictionLog
from continuum.serving.validation import CheckedRecords

logger = logging.getLogger(__name__)


class ShadowCopy(NamedTuple):
    """One request's records, as the champion's validator checked them."""

    rollout: Rollout
    request_id: str
    records: list[dict[str, Any]]
    checked: CheckedRecords
    same_spec: bool


class ShadowQueue:
    """The bounded queue of shadow copies and the task that predicts them."""

    def __init__(self, log: PredictionLog, metrics: ServingMetrics, *, max_records: int) -> None:
        self.log = log
        self.metrics = metrics
        self.max_records = max_records
        self.queued = 0
        """Records waiting for the shadow model."""
        self._pending: deque[ShadowCopy] = deque()
        self._wake = asyncio.Event()
        self._dropped = PipelineCounter(metrics.shadow_dropped)
        self._task: asyncio.Task[None] | None = None

    def offer(
        self,
        rollout: Rollout,
        request_id: str,
        records: list[dict[str, Any]],
        checked: CheckedRecords,
        *,
        same_spec: bool,
    ) -> bool:
        """Queue a copy of a request for the shadow model; False (counted) when full.

        ``same_spec``: the champion that checked ``records`` has the candidate's spec
        version, so its checked values are the candidate's input as they are. A copy is
        also dropped when it would fill the prediction log past half: under overload the
        shadow gives way first, so it never costs the champion's predictions their log
        entries (the monitor's view of live traffic).
        """
        count = len(records)
        log = self.log
        # Copies still queued here will be logged too: they count against the log's half.
        if (
            self.queued + count > self.max_records
            or (log.queued + self.queued + count) * 2 > log.max_size
        ):
            self._dropped.inc(rollout.candidate.pipeline, count)
            return False
        self._pending.append(ShadowCopy(rollout, request_id, records, checked, same_spec))
        self.queued += count
        self._wake.set()
        return True

    def start(self) -> None:
        """Start predicting in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="shadow-predictions")

    async def close(self) -> None:
        """Stop; copies still queued are dropped (and counted): shadows are best effort."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._pending:
            copy = self._pending.popleft()
            self._dropped.inc(copy.rollout.candidate.pipeline, len(copy.records))
        self.queued = 0

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            copies = list(self._pending)
            self._pending.clear()
            try:
                # All handed over at once: each candidate's batcher makes them one call.
                await asyncio.gather(*(self._predict(copy) for copy in copies))
            finally:
                self.queued -= sum(len(copy.records) for copy in copies)

    async def _predict(self, copy: ShadowCopy) -> None:
        candidate = copy.rollout.candidate
        try:
            values = (
                copy.checked.values
                if copy.same_spec
                # Trained on another spec version: the candidate's own contract decides.
                else candidate.validator.check(copy.records).values
            )
            inferred: Inferred = await candidate.batcher.predict(values)
        except Exception as exc:
            candidate.meter.counts.errors += len(copy.records)
            self.log.count_errors(candidate, copy.rollout.rollout_id, len(copy.records))
            logger.debug("shadow v%d failed a request: %s", candidate.version, exc)
            return
        predictions = inferred.predictions
        counts = candidate.meter.counts
        counts.records += len(copy.records)
        counts.requests += 1
        self.log.offer(
            LoggedRequest(
                candidate,
                copy.request_id,
                copy.records,
                predictions.labels,
                predictions.probabilities,
                copy.checked.entity_ids,
                copy.checked.event_times,
                utc_now(),
                len(copy.records),
                copy.rollout.rollout_id,
                inferred.seconds,
            )
        )
