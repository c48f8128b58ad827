"""Knowing when a running stack has finished reacting to what was just sent to it.

The platform replay sends one batch, then must wait until every consequence has played
out before the next batch (prequential: the model that predicts batch ``t + 1`` is the one
the loop chose after batch ``t``'s labels). The stack is idle when, twice in a row:

- ingest has checked every record produced so far;
- every consumer group has committed up to the end of every partition it holds or has
  committed to (services commit only after the effect is durable: "processed");
- the trainer runs nothing and holds no pending trigger;
- serving answers with the registry's champion.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families


class NotSettledError(RuntimeError):
    """The stack kept working (or got stuck) past the deadline; says on what."""


def metric_sum(text: str, name: str) -> float:
    """The sum over every series of metric ``name`` in a Prometheus exposition."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


PER_REPLICA_GROUPS = ("continuum-serving-",)
"""Group-name prefixes of consumer groups each replica makes its own (see serving)."""


@dataclass
class StackProbe:
    """Reads the broker's committed offsets and the services' health and metrics."""

    bootstrap_servers: str
    urls: dict[str, str]
    patience: float = 300.0
    """Seconds any one wait may take before :class:`NotSettledError`."""
    admin: AIOKafkaAdminClient | None = None
    ends: AIOKafkaConsumer | None = None
    before: dict[TopicPartition, int] = field(default_factory=dict)
    """End offsets when the probe started: what a group that never committed to a
    partition has to do starts there (a shared broker's topics hold earlier tests' events,
    which a consumer starting at ``latest`` never sees and so never commits past)."""

    async def start(self) -> None:
        """Connect the admin client and the (group-less) end-offset reader."""
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await self.admin.start()
        self.ends = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers)
        await self.ends.start()
        # From the admin's metadata: the consumer's partitions_for_topic knows only the
        # topics it tracks (none, for this group-less reader), so it would say nothing.
        partitions = [
            TopicPartition(topic["topic"], part.get("partition", part.get("partition_index")))
            for topic in await self.admin.describe_topics()
            for part in topic["partitions"]
        ]
        self.before = dict(await self.ends.end_offsets(partitions)) if partitions else {}

    async def stop(self) -> None:
        """Close both clients."""
        if self.ends is not None:
            await self.ends.stop()
        if self.admin is not None:
            await self.admin.close()

    async def metrics(self, http: httpx.AsyncClient, service: str) -> str:
        """A service's ``/metrics`` text."""
        response = await http.get(f"{self.urls[service]}/metrics", follow_redirects=True)
        response.raise_for_status()
        return response.text

    async def assigned(
        self, http: httpx.AsyncClient, services: Iterable[str] | None = None
    ) -> set[tuple[str, TopicPartition]]:
        """``(group, partition)`` of every partition a service's consumer holds right now
        (from each service's ``continuum_consumer_lag``), committed to or not yet."""
        return set(await self.positions(http, services))

    async def positions(
        self, http: httpx.AsyncClient, services: Iterable[str] | None = None
    ) -> dict[tuple[str, TopicPartition], float]:
        """``{(group, partition): messages the consumer has still to read}`` for every
        partition a service's consumer holds right now (its ``continuum_consumer_lag``)."""
        found: dict[tuple[str, TopicPartition], float] = {}
        for service in self.urls if services is None else services:
            for family in text_string_to_metric_families(await self.metrics(http, service)):
                for sample in family.samples:
                    labels = sample.labels
                    if sample.name == "continuum_consumer_lag" and labels.get("group"):
                        tp = TopicPartition(labels["topic"], int(labels["partition"]))
                        found[(labels["group"], tp)] = sample.value
        return found

    async def wait_assigned(self, http: httpx.AsyncClient, source_topic: str) -> None:
        """Until every consuming service holds partitions (its groups have joined) and
        ingest reads ``source_topic``, so that no backlog can hide from
        :meth:`lagging_groups`."""
        deadline = time.monotonic() + self.patience
        consumers = {"trainer", "monitor", "registry"} & set(self.urls)
        while True:
            joined = {s for s in consumers if await self.assigned(http, [s])}
            if any(tp.topic == source_topic for _, tp in await self.assigned(http, ["ingest"])):
                joined.add("ingest")
            if joined == consumers | {"ingest"}:
                return
            if time.monotonic() > deadline:
                missing = sorted((consumers | {"ingest"}) - joined)
                raise NotSettledError(f"consumers of {missing} never joined")
            await asyncio.sleep(0.5)

    async def lagging_groups(self, http: httpx.AsyncClient) -> dict[str, int]:
        """``{group: records not yet processed}`` for every group that is behind.

        Processed means committed. A partition a consumer holds but never committed to
        counts from where it ended when the probe started (offset 0 for a newer one), so
        a consumer's first records are not mistaken for none, unless the consumer says it
        has read it to the end: a consumer that starts at ``latest`` and joined after an
        event never receives it, so never commits there (serving's event subscribers).
        """
        assert self.admin is not None and self.ends is not None
        partitions: dict[str, set[TopicPartition]] = {}
        positions = await self.positions(http)
        for group, tp in positions:
            partitions.setdefault(group, set()).add(tp)
        # A per-replica group (serving's, continuum-serving-<random id>) counts only while
        # a service of this stack reports it: a shared broker keeps the groups of stacks
        # that are gone, and those fall behind forever as later stacks publish. (Asking
        # the broker which groups have members instead broke on CI: aiokafka could not
        # decode some groups' DescribeGroups answers from Kafka 4.)
        for group, _ in await self.admin.list_consumer_groups():
            if not group.startswith(PER_REPLICA_GROUPS):
                partitions.setdefault(group, set())
        behind: dict[str, int] = {}
        for group, held in partitions.items():
            committed = {
                TopicPartition(tp.topic, tp.partition): meta.offset
                for tp, meta in (await self.admin.list_consumer_group_offsets(group)).items()
            }
            wanted = sorted(held | set(committed))
            if not wanted:
                continue
            ends = await self.ends.end_offsets(wanted)
            read_to_end = {tp for tp in held if positions.get((group, tp)) == 0}
            lag = sum(
                max(0, ends[tp] - self._done_up_to(tp, committed))
                for tp in wanted
                if tp not in read_to_end or committed.get(tp, -1) >= 0
            )
            if lag:
                behind[group] = lag
        return behind

    def _done_up_to(self, tp: TopicPartition, committed: dict[TopicPartition, int]) -> int:
        offset = committed.get(tp, -1)
        return offset if offset >= 0 else self.before.get(tp, 0)

    async def wait_caught_up(self, http: httpx.AsyncClient) -> None:
        """Until every consumer group has processed everything published so far."""
        deadline = time.monotonic() + self.patience
        while behind := await self.lagging_groups(http):
            if time.monotonic() > deadline:
                raise NotSettledError(f"consumer groups still behind: {behind}")
            await asyncio.sleep(0.2)

    async def busy(self, http: httpx.AsyncClient, produced: int) -> list[str]:
        """What the stack is still doing (empty when it is idle); ``produced``: source
        records sent so far (ingest must have checked them all)."""
        behind = await self.lagging_groups(http)
        reasons = [f"group {g} is {n} behind" for g, n in behind.items()]
        checked = metric_sum(await self.metrics(http, "ingest"), "continuum_ingest_records_total")
        if checked < produced:
            reasons.append(f"ingest checked {checked:.0f} of {produced} records")
        health = (await http.get(f"{self.urls['trainer']}/health")).json()
        if health.get("running"):
            reasons.append(f"trainer is running {health['running']}")
        pending = metric_sum(
            await self.metrics(http, "trainer"), "continuum_trainer_pending_triggers"
        )
        if pending:
            reasons.append(f"trainer holds {pending:.0f} pending trigger(s)")
        return reasons

    async def logs_published(self, http: httpx.AsyncClient) -> float:
        """Predictions serving has published to the log topic (dropped ones count as done)."""
        text = await self.metrics(http, "serving")
        return metric_sum(text, "continuum_serving_prediction_logs_published_total") + metric_sum(
            text, "continuum_serving_prediction_logs_dropped_total"
        )

    async def wait_published(self, http: httpx.AsyncClient, count: float) -> None:
        """Until serving has published (or dropped) ``count`` prediction logs in all."""
        deadline = time.monotonic() + self.patience
        while (done := await self.logs_published(http)) < count:
            if time.monotonic() > deadline:
                raise NotSettledError(f"serving published {done:.0f} of {count:.0f} logs")
            await asyncio.sleep(0.2)

    async def wait_idle(
        self,
        http: httpx.AsyncClient,
        versions: Callable[[], Awaitable[tuple[int | None, int | None]]],
        produced: int,
        poll: float = 0.5,
    ) -> None:
        """Until :meth:`busy` is empty twice in a row and serving serves the champion.

        ``versions`` returns ``(the registry's champion, the version serving answers with)``.
        """
        deadline = time.monotonic() + self.patience
        quiet = 0
        reasons: list[str] = []
        while quiet < 2:
            if time.monotonic() > deadline:
                raise NotSettledError("; ".join(reasons) or "serving never caught up")
            await asyncio.sleep(poll)
            champion_version, served = await versions()
            reasons = await self.busy(http, produced)
            if champion_version != served:
                reasons.append(f"serving answers v{served}, champion is v{champion_version}")
            quiet = quiet + 1 if not reasons else 0
