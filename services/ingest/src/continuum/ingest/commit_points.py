"""Which offsets may be committed while batch writes are still in flight (write-behind).

An engine step checks a poll and starts its writes (:class:`~batch_writes.Pending`); it
returns before they are durable. Its tentative offsets (each partition's last message
checked) become *processed* only once its writes and every earlier step's are durable:
steps settle strictly in order, so a processed offset never passes a message whose batch
or rejection is still in flight. A partition's commit point is

    min(processed + 1, first offset buffered in a lane, first offset in an unsettled cut)

(an unsettled cut may hold rows from before the processed offset: a lane's buffer spans
polls). At most ``bound`` steps are unsettled at a time, which bounds memory and the
work a failure throws away. A failed step stops all settling until the engine rewinds.
Once a step's writes end, ``on_durable`` is called (the engine settles and commits then,
not only at its next poll: the commit comes as soon as what it covers is durable).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from continuum.ingest.batch_writes import BatchWriter, Pending
from continuum.ingest.lanes import TopicPartition
from continuum.ingest.ports import OffsetCommitter

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Step:
    """One engine step whose writes are not all durable yet."""

    pending: Pending
    offsets: dict[TopicPartition, int]
    """Each partition's last offset the step checked: processed once the step settles."""


class CommitPoints:
    """Unsettled steps in order, the offsets they make processed, and the commit."""

    def __init__(
        self,
        writer: BatchWriter,
        committer: OffsetCommitter,
        bound: int = 2,
        on_durable: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        if bound < 1:
            raise ValueError("at least one step must be allowed in flight")
        self.writer = writer
        self.committer = committer
        self.bound = bound
        self.on_durable = on_durable
        self._watchers: set[asyncio.Future[None]] = set()
        self.steps: deque[Step] = deque()
        self.processed: dict[TopicPartition, int] = {}
        """Last offset per partition whose every message is durable (or buffered)."""
        self.committed: dict[TopicPartition, int] = {}
        self.session_start: dict[TopicPartition, int] = {}
        """First offset seen per partition since it was assigned (where a rewind goes
        when nothing was committed yet)."""
        self.failure: BaseException | None = None
        """A step's write failed: raised by every settle until :meth:`abandon`."""

    def add(self, pending: Pending, offsets: Mapping[TopicPartition, int]) -> None:
        """A step's writes have started; ``offsets`` are processed once they are durable."""
        if pending.done is None:  # nothing of its own in flight: it settles with the last
            if self.steps:
                self.steps[-1].offsets.update(offsets)
            else:
                self.processed.update(offsets)
            return
        self.steps.append(Step(pending, dict(offsets)))
        if self.on_durable is not None:
            watcher = asyncio.ensure_future(self._when_durable(pending.done, self.on_durable))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)

    async def settle_done(self) -> None:
        """Settle, in order, the oldest steps already durable; raise a failure seen."""
        self._raise_failed()
        while self.steps and _ended(self.steps[0].pending):
            await self._settle_oldest()

    async def make_room(self) -> None:
        """Before a step starts writes: settle what is done, then wait for the oldest
        steps while ``bound`` are unsettled."""
        await self.settle_done()
        while len(self.steps) >= self.bound:
            await self._settle_oldest()

    async def settle_all(self) -> None:
        """Wait for every step, in order. On a failure the other writes still running are
        waited for (none left running behind a revoke or a rewind), then it is raised."""
        try:
            self._raise_failed()
            while self.steps:
                await self._settle_oldest()
        except Exception:
            await self.writer.drain()
            raise

    async def abandon(self) -> None:
        """For a rewind: wait for every write still running, then forget every step and
        processed offset (a write that ended after a failure is harmless: the re-read
        skips rows its manifest covers)."""
        await self.writer.drain()
        for watcher in self._watchers:  # idle: waiting for a write or for the engine's lock
            watcher.cancel()
        for step in self.steps:
            _quiet(step.pending)
        self.steps.clear()
        self.processed.clear()
        self.failure = None
        self.writer.reset()

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        """Partitions given away: their offsets are another consumer's now."""
        for tp in tps:
            for state in (self.processed, self.committed, self.session_start):
                state.pop(tp, None)
            for step in self.steps:
                step.offsets.pop(tp, None)

    def restart_points(self, owned: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Where to read each partition again from: nothing past there was committed."""
        targets: dict[TopicPartition, int] = {}
        for tp in owned:
            start = self.committed.get(tp, self.session_start.get(tp))
            if start is not None:
                targets[tp] = start
        return targets

    async def commit(
        self,
        owned: Iterable[TopicPartition],
        first_buffered: Callable[[TopicPartition], int | None],
    ) -> None:
        """Commit each owned partition up to its first message not yet durable."""
        offsets: dict[TopicPartition, int] = {}
        for tp in owned:
            if tp not in self.processed:
                continue
            point = self.processed[tp] + 1
            holds = (first_buffered(tp), *(step.pending.firsts.get(tp) for step in self.steps))
            point = min([point, *(first for first in holds if first is not None)])
            # The session started at the committed offset: committing it again is a no-op.
            if point > self.committed.get(tp, self.session_start.get(tp, -1)):
                offsets[tp] = point
        if not offsets:
            return
        try:
            await self.committer.commit(offsets)
        except Exception as exc:  # e.g. a rebalance: a later commit (or the next owner) catches up
            logger.warning("offset commit failed (%s); will commit again later", exc)
            return
        self.committed.update(offsets)

    @staticmethod
    async def _when_durable(
        done: asyncio.Future[list[None]], then: Callable[[], Awaitable[None]]
    ) -> None:
        await asyncio.wait([done])  # ended, durable or failed (``then`` tells which)
        await then()

    def _raise_failed(self) -> None:
        # Any step that failed, not only the oldest: no point writing on behind it.
        for step in self.steps:
            if self.failure is None:
                self.failure = step.pending.failure()
        if self.failure is not None:
            raise self.failure

    async def _settle_oldest(self) -> None:
        step = self.steps[0]
        try:
            # Through the writer's ``durable`` (by name): the bench times the waits there.
            await self.writer.durable(step.pending)
        except Exception as exc:
            self.failure = exc
            raise
        self.steps.popleft()
        self.processed.update(step.offsets)


def _ended(pending: Pending) -> bool:
    return pending.done is None or pending.done.done()


def _quiet(pending: Pending) -> None:
    """Mark a failure abandoned with its step as seen (no "never retrieved" warning)."""

    def retrieve(future: asyncio.Future[Any]) -> None:
        if not future.cancelled():
            future.exception()

    if pending.done is not None:
        pending.done.add_done_callback(retrieve)
