"""Prequential replay through the running platform: Kafka and the five services, for real.

The in-process replay (:mod:`bench.quality.replay`) calls the policy's library directly;
this one drives the platform as a user's producers and applications would, batch by batch:

1. ask serving for predictions on the batch (HTTP, without labels), once a model exists;
2. wait until serving has logged them and the monitor has read the log;
3. produce the batch's labelled records to the pipeline's source topic (ingest stores
   them) and send their labels as ``Feedback`` (the monitor joins them with the logged
   predictions and publishes the champion's live quality for the window);
4. wait until the platform is idle: the trainer's cost-aware policy has decided on the
   window, any run it started has been trained, gated by the registry and, if promoted,
   hot-swapped into serving.

The batches are the in-process replay's, so the baselines computed there are directly
comparable; the spec is the stream's with the cost-aware policy, one monitoring window
per batch, and an entity id so that labels can be joined.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import yaml
from aiokafka import AIOKafkaProducer

from bench.quality.replay import Replay, auc
from bench.quality.settle import StackProbe
from bench.quality.strategies import Outcome
from bench.quality.streams import EVENT_TIME, LABEL, Stream
from continuum.cli.ports import free_ports
from continuum.cli.stack import SERVICES, LocalStack
from continuum.cli.topics_setup import ensure_topics
from continuum.contracts import Feedback, encode_event
from continuum.localkafka import LocalKafka
from continuum.registry_client import RegistryClient

ROW_ID = "row_id"
SOURCE = "continuum-bench"
MAX_RECORDS_PER_REQUEST = 500


@dataclass(frozen=True)
class PlatformOptions:
    """How to run the stack the replay drives."""

    retrain_cost: float = 0.1
    bootstrap_servers: str | None = None
    """Use this Kafka instead of starting one (tests share their session broker)."""
    home: Path | None = None
    """Where the stack keeps its state and logs (a temporary folder by default)."""
    settle_timeout: float = 300.0


@dataclass
class PlatformOutcome:
    """Continuum's policy as the platform ran it, and what the registry recorded."""

    outcome: Outcome
    served_versions: list[int | None] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def platform_spec(stream: Stream, retrain_cost: float) -> dict[str, Any]:
    """The stream's spec as a user would apply it: cost-aware, one window per batch."""
    spec = stream.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec["schema"]["entity_id"] = ROW_ID
    spec["triggers"] = {"policy": "cost_aware", "retrain_cost": retrain_cost}
    spec["monitoring"] = {"window_rows": stream.batch_rows}
    spec["ingest"] = {"flush_rows": stream.batch_rows, "flush_seconds": 0.5}
    return spec


def batch_records(batch: pd.DataFrame, stream: Stream, first_row: int) -> list[dict[str, Any]]:
    """The batch as labelled JSON records (features, event time, label, a row id)."""
    columns = [f.name for f in stream.spec.record_schema.features]
    # JSON round trip: numpy scalars become plain numbers and missing values null.
    records: list[dict[str, Any]] = json.loads(batch[columns].to_json(orient="records"))
    times = batch[EVENT_TIME].map(lambda t: t.isoformat()).tolist()
    labels = batch[LABEL].astype(int).tolist()
    for i, record in enumerate(records):
        record[ROW_ID] = f"{stream.name}-{first_row + i}"
        record[EVENT_TIME] = times[i]
        record[LABEL] = labels[i]
    return records


class PlatformReplay:
    """One stream replayed through a stack this object starts and stops."""

    def __init__(self, stream: Stream, options: PlatformOptions) -> None:
        self.stream = stream
        self.options = options
        self.batches = Replay(stream).batches
        self.name = stream.spec.name
        self.spec = platform_spec(stream, options.retrain_cost)

    async def run(self, progress: Callable[[str], None] = print) -> PlatformOutcome:
        """Start Kafka (unless given) and the stack, replay every batch, stop everything."""
        started = time.monotonic()
        home = self.options.home or Path(tempfile.mkdtemp(prefix=f"bench-{self.name}-"))
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        kafka = None
        bootstrap = self.options.bootstrap_servers
        if bootstrap is None:
            progress(f"  {self.name}: starting Kafka in {home / 'kafka'}")
            kafka = LocalKafka(home / "kafka").start(port=0)
            bootstrap = kafka.bootstrap_servers
        await ensure_topics(bootstrap, extra=[self.spec["source_topic"]])
        ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        stack = LocalStack(home, bootstrap, ports=ports)
        try:
            progress(f"  {self.name}: starting {', '.join(SERVICES)} (logs in {home / 'logs'})")
            await asyncio.to_thread(stack.start)
            async with RegistryClient(stack.url("registry"), token=stack.token) as registry:
                await registry.apply_spec(self.name, yaml.safe_dump(self.spec), applied_by="bench")
                result = await self._replay(stack, bootstrap, registry, progress)
                result.runs = [
                    run.model_dump(mode="json")
                    for run in reversed(await registry.list_runs(self.name, limit=500))
                ]
        finally:
            stack.stop()
            if kafka is not None:
                kafka.stop()
        result.outcome.runs = len(result.runs)  # a failed run costs too
        result.outcome.promoted = sum(1 for run in result.runs if run["decision"] == "promoted")
        result.outcome.decisions = [
            f"v{run['version']} ({run['trigger']}): {run['decision']}; {run['decision_reason']}"
            for run in result.runs
        ]
        result.seconds = time.monotonic() - started
        return result

    async def _replay(
        self,
        stack: LocalStack,
        bootstrap: str,
        registry: RegistryClient,
        progress: Callable[[str], None],
    ) -> PlatformOutcome:
        result = PlatformOutcome(Outcome("continuum (platform)"))
        probe = StackProbe(
            bootstrap, {name: stack.url(name) for name in SERVICES}, self.options.settle_timeout
        )
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=20, client_id=SOURCE
        )
        await probe.start()
        await producer.start()
        http = httpx.AsyncClient(timeout=60)

        async def versions() -> tuple[int | None, int | None]:
            champion = await registry.get_champion(self.name)
            health = (await http.get(f"{stack.url('serving')}/health")).json()
            return (champion.version if champion else None), health["models"].get(self.name)

        try:
            async with http:
                await probe.wait_assigned(http, self.spec["source_topic"])
                logged, first_row = 0, 0
                last = len(self.batches) - 1
                for index, batch in enumerate(self.batches):
                    records = batch_records(batch, self.stream, first_row)
                    first_row += len(records)
                    champion, _ = await versions()
                    answered = False
                    if champion is not None:
                        scores, served = await self._predict(http, stack, records)
                        result.outcome.scores.append(scores)
                        result.outcome.labels.append(batch[LABEL].to_numpy())
                        result.outcome.per_batch.append(auc(batch[LABEL].to_numpy(), scores))
                        result.served_versions.append(served)
                        logged += len(records)
                        await probe.wait_published(http, logged)
                        await probe.wait_caught_up(http)
                        answered = True
                    if index < last:  # as in-process: no decision after the last batch
                        await self._produce(producer, records, feedback=answered)
                        await probe.wait_idle(http, versions, first_row)
                    latest = result.outcome.per_batch[-1] if answered else float("nan")
                    progress(
                        f"  {self.name}: batch {index + 1}/{len(self.batches)}  "
                        f"served v{result.served_versions[-1] if answered else '-'}  "
                        f"auc {latest:.3f}"
                    )
        finally:
            await producer.stop()
            await probe.stop()
        return result

    async def _predict(
        self, http: httpx.AsyncClient, stack: LocalStack, records: list[dict[str, Any]]
    ) -> tuple[np.ndarray[Any, Any], int]:
        """Positive-class scores for the batch (labels withheld), and the version used."""
        url = f"{stack.url('serving')}/v1/pipelines/{self.name}/predict"
        scores: list[float] = []
        versions: set[int] = set()
        for start in range(0, len(records), MAX_RECORDS_PER_REQUEST):
            chunk = [
                {k: v for k, v in r.items() if k != LABEL}
                for r in records[start : start + MAX_RECORDS_PER_REQUEST]
            ]
            response = await http.post(url, json={"records": chunk})
            response.raise_for_status()
            body = response.json()
            versions.add(int(body["model_version"]))
            scores.extend(p["probabilities"]["1"] for p in body["predictions"])
        if len(versions) != 1:  # the stack was idle: a swap mid-batch is a bug here
            raise RuntimeError(f"one batch was served by versions {sorted(versions)}")
        return np.asarray(scores), versions.pop()

    async def _produce(
        self, producer: AIOKafkaProducer, records: list[dict[str, Any]], *, feedback: bool
    ) -> None:
        """The labelled records to the source topic, and their labels as ``Feedback``."""
        sends = []
        source = self.spec["source_topic"]
        for record in records:
            key = record[ROW_ID].encode()
            # One partition: ingest then stores a batch as one Parquet batch (one lane), so
            # the cold start trains on the whole first batch, as the in-process replay does
            # (spread over three lanes, it fired on the first two lanes' ~2/3 of it).
            value = json.dumps(record).encode()
            sends.append(await producer.send(source, value, key=key, partition=0))
            if feedback:
                item = encode_event(
                    Feedback(
                        pipeline=self.name,
                        entity_id=record[ROW_ID],
                        label=record[LABEL],
                        event_time=record[EVENT_TIME],
                    ),
                    source=SOURCE,
                )
                sends.append(
                    await producer.send(
                        item.topic, item.value, key=item.key, headers=item.header_pairs()
                    )
                )
        await asyncio.gather(*sends)


def run_on_platform(
    stream: Stream, options: PlatformOptions, progress: Callable[[str], None] = print
) -> PlatformOutcome:
    """Synchronous entry point (the benchmark's CLI and tests)."""
    return asyncio.run(PlatformReplay(stream, options).run(progress))
