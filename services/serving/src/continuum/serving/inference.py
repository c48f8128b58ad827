"""Running the model: one pipeline pass per batch, concurrent requests coalesced.

Two measured facts shape this module (bench/serving_bench.py, services/serving/README.md):

- A fitted pipeline costs about the same for 1 row as for 100: nearly all of it is
  per-call overhead (ColumnTransformer, input checks), not arithmetic. So requests that
  arrive together are predicted together: :class:`MicroBatcher` sends whatever is
  waiting as ONE call, and while that call runs the next batch gathers. An idle
  server adds no wait (the first request goes at once); a busy one batches by itself.
- ``LoadedModel.predict_records`` runs the pipeline once (labels are
  ``classes_[argmax(proba)]``), so one batch is one pipeline call, and it types the
  batch's records once into numpy columns the fitted pipeline runs on directly (no
  DataFrame built and re-typed per batch: that was most of a batch's cost).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from continuum.modelkit import LoadedModel, Predictions


class Inferred(NamedTuple):
    """One request's predictions and its share of the model time that computed them."""

    predictions: Predictions
    seconds: float


def predict_records(model: LoadedModel, records: list[dict[str, Any]]) -> Predictions:
    """Labels (and class probabilities for classifiers) for validated records."""
    return model.predict_records(records)


def _timed(model: LoadedModel, records: list[dict[str, Any]]) -> tuple[Predictions, float]:
    """Predictions and the model time they took: this thread's CPU time, not wall time.

    Wall time in a worker thread includes waiting for the GIL while other threads run
    (the event loop, or another arm's batch during a canary), which would charge each
    arm the others' work and skew a rollout's latency comparison; CPU time of the calling
    thread is the call's own. (A model that computes in extra native threads would be
    under-counted; serving runs its pipelines single-threaded.)
    """
    started = time.thread_time()
    result = predict_records(model, records)
    return result, time.thread_time() - started


class MicroBatcher:
    """Coalesces concurrent predictions for one model into single pipeline calls.

    ``inline_max_rows``: batches up to this size run on the event loop (no thread hop);
    bigger ones in a worker thread, so the loop keeps accepting requests meanwhile.
    ``observe`` gets the model time of every pipeline call (the inference histogram).
    """

    def __init__(
        self,
        model: LoadedModel,
        *,
        max_rows: int,
        inline_max_rows: int,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.model = model
        self.max_rows = max_rows
        self.inline_max_rows = inline_max_rows
        self.observe = observe
        self._waiting: list[tuple[list[dict[str, Any]], asyncio.Future[Inferred]]] = []
        self._draining = False
        self._task: asyncio.Task[None] | None = None  # referenced so it is not collected

    async def predict(self, records: list[dict[str, Any]]) -> Inferred:
        """Predictions for ``records``, possibly computed together with other requests',
        with their share (by rows) of that call's model time."""
        future: asyncio.Future[Inferred] = asyncio.get_running_loop().create_future()
        self._waiting.append((records, future))
        if not self._draining:
            self._draining = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch = self._take()
                rows = [r for records, _ in batch for r in records]
                try:
                    result, seconds = await self._run(rows)
                except Exception as exc:
                    await self._one_by_one(batch, exc)
                    continue
                per_row = seconds / len(rows) if rows else 0.0
                start = 0
                for records, future in batch:
                    end = start + len(records)
                    if not future.done():  # the client may have gone away
                        future.set_result(
                            Inferred(_slice(result, start, end), per_row * len(records))
                        )
                    start = end
        finally:
            self._draining = False

    async def _run(self, rows: list[dict[str, Any]]) -> tuple[Predictions, float]:
        if len(rows) <= self.inline_max_rows:
            result = _timed(self.model, rows)
        else:
            result = await asyncio.to_thread(_timed, self.model, rows)
        if self.observe is not None:
            self.observe(result[1])
        return result

    async def _one_by_one(
        self,
        batch: list[tuple[list[dict[str, Any]], asyncio.Future[Inferred]]],
        error: Exception,
    ) -> None:
        # A failed batch fails only the requests that fail on their own.
        for records, future in batch:
            if future.done():
                continue
            try:
                result = await self._run(records) if len(batch) > 1 else None
            except Exception as exc:
                future.set_exception(exc)
                continue
            if result is None:
                future.set_exception(error)
            elif not future.done():
                future.set_result(Inferred(*result))

    def _take(self) -> list[tuple[list[dict[str, Any]], asyncio.Future[Inferred]]]:
        # Always at least one request (a single request may exceed max_rows on its own).
        taken = [self._waiting[0]]
        rows = len(taken[0][0])
        index = 1
        while index < len(self._waiting) and rows + len(self._waiting[index][0]) <= self.max_rows:
            rows += len(self._waiting[index][0])
            taken.append(self._waiting[index])
            index += 1
        del self._waiting[:index]
        return taken


def _slice(result: Predictions, start: int, end: int) -> Predictions:
    probabilities = result.probabilities
    return Predictions(
        labels=result.labels[start:end],
        probabilities=probabilities[start:end] if probabilities is not None else None,
    )
