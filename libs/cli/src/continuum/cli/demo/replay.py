"""Replays flights in time order: predict first (as at departure), label after (as it lands).

Each simulated day: its flights are sent to serving for predictions, then produced with
their label to the pipeline's source topic. A few records are deliberately malformed so
the demo shows ingest quarantining them with the reason.

The ground truth also reaches the monitor as delayed labels: one ``Feedback`` per flight
serving answered for (joined on the flight id, which serving logs as the entity id), sent
``label_delay_days`` simulated days later (prequential: predict, then learn the truth; the
lag also lets the monitor consume the prediction log before the label arrives).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from aiokafka import AIOKafkaProducer

from continuum.cli.flights_data import to_records
from continuum.contracts import Feedback, KafkaRecord, encode_event

MAX_RECORDS_PER_REQUEST = 500
SOURCE = "continuum-demo"
"""The CloudEvents ``ce_source`` of the events the demo publishes."""


@dataclass
class ReplayStats:
    """What the replay sent and what serving answered."""

    days: int = 0
    current_day: str = ""
    records_produced: int = 0
    malformed_produced: int = 0
    predictions: int = 0
    feedback_sent: int = 0
    http_statuses: Counter[int] = field(default_factory=Counter)
    served_versions: Counter[int] = field(default_factory=Counter)
    last_served_version: int | None = None
    version_by_day: list[tuple[str, int | None]] = field(default_factory=list)
    first_served_at: dict[int, float] = field(default_factory=dict)
    valid_ids: set[str] = field(default_factory=set)
    malformed_ids: set[str] = field(default_factory=set)

    @property
    def failed_requests(self) -> int:
        """Requests that failed for a reason other than 'no model yet' (503)."""
        return sum(n for status, n in self.http_statuses.items() if status not in (200, 503))


def feedback_records(pipeline: str, records: list[dict[str, Any]]) -> list[KafkaRecord]:
    """One ``Feedback`` per flight (entity id = flight id, label = ``delayed``), encoded."""
    return [
        encode_event(
            Feedback(
                pipeline=pipeline,
                entity_id=str(record["flight_id"]),
                label=record["delayed"],
                event_time=record["time_hour"],
            ),
            source=SOURCE,
        )
        for record in records
    ]


def malformed(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` a producer got wrong: a number sent as text, a bad airport."""
    bad = dict(record)
    bad["flight_id"] = f"malformed-{record['flight_id']}"
    bad["distance"] = "far"
    bad["origin"] = "XYZ"
    return bad


class Replayer:
    """Drives one replay against serving (HTTP) and the source topic (Kafka)."""

    def __init__(
        self,
        *,
        flights: pd.DataFrame,
        serving_url: str,
        pipeline: str,
        source_topic: str,
        bootstrap_servers: str,
        seconds_per_day: float,
        malformed_every: int = 4000,
        label_delay_days: int = 1,
    ) -> None:
        self.flights = flights
        self.serving_url = serving_url.rstrip("/")
        self.pipeline = pipeline
        self.source_topic = source_topic
        self.bootstrap_servers = bootstrap_servers
        self.seconds_per_day = seconds_per_day
        self.malformed_every = malformed_every
        self.label_delay_days = label_delay_days
        self.stats = ReplayStats()

    async def predict(
        self, http: httpx.AsyncClient, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Ask serving for predictions (without the label), recording status and version.

        Returns the records serving answered for (as given, with their label if any).
        """
        answered: list[dict[str, Any]] = []
        for start in range(0, len(records), MAX_RECORDS_PER_REQUEST):
            batch = records[start : start + MAX_RECORDS_PER_REQUEST]
            chunk = [{k: v for k, v in r.items() if k != "delayed"} for r in batch]
            try:
                response = await http.post(
                    f"{self.serving_url}/v1/pipelines/{self.pipeline}/predict",
                    json={"records": chunk},
                )
            except httpx.HTTPError:
                self.stats.http_statuses[0] += 1
                continue
            self.stats.http_statuses[response.status_code] += 1
            if response.status_code == 200:
                body = response.json()
                version = int(body["model_version"])
                self.stats.predictions += len(body["predictions"])
                self.stats.served_versions[version] += 1
                self.stats.last_served_version = version
                self.stats.first_served_at.setdefault(version, time.time())
                answered.extend(batch)
        return answered

    async def produce(self, producer: AIOKafkaProducer, records: list[dict[str, Any]]) -> None:
        """Produce labelled records (and the odd malformed one) to the source topic."""
        sends = []
        for record in records:
            self.stats.records_produced += 1
            self.stats.valid_ids.add(record["flight_id"])
            sends.append(
                await producer.send(
                    self.source_topic, json.dumps(record).encode(), key=record["flight_id"].encode()
                )
            )
            if self.stats.records_produced % self.malformed_every == 0:
                bad = malformed(record)
                self.stats.malformed_produced += 1
                self.stats.malformed_ids.add(bad["flight_id"])
                sends.append(
                    await producer.send(
                        self.source_topic, json.dumps(bad).encode(), key=bad["flight_id"].encode()
                    )
                )
        await asyncio.gather(*sends)

    async def send_feedback(
        self, producer: AIOKafkaProducer, records: list[dict[str, Any]]
    ) -> None:
        """Publish the labels of flights serving predicted, as ``Feedback`` (one batch)."""
        sends = []
        for item in feedback_records(self.pipeline, records):
            send = producer.send(item.topic, item.value, key=item.key, headers=item.header_pairs())
            sends.append(await send)
        await asyncio.gather(*sends)
        self.stats.feedback_sent += len(sends)

    async def run(self, on_day: Callable[[ReplayStats], None] | None = None) -> ReplayStats:
        """Replay every day in order at ``seconds_per_day`` (or slower if the work takes longer)."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            acks="all",
            linger_ms=20,
            client_id=f"continuum-demo-{uuid.uuid4().hex[:6]}",
        )
        await producer.start()
        try:
            async with httpx.AsyncClient(timeout=30) as http:
                days = self.flights.groupby(self.flights["time_hour"].dt.date, sort=True)
                labels: deque[list[dict[str, Any]]] = deque()
                for day, frame in days:
                    started = time.monotonic()
                    records = to_records(frame, labelled=True)
                    labels.append(await self.predict(http, records))
                    await self.produce(producer, records)
                    while len(labels) > self.label_delay_days:
                        await self.send_feedback(producer, labels.popleft())
                    self.stats.days += 1
                    self.stats.current_day = str(day)
                    self.stats.version_by_day.append((str(day), self.stats.last_served_version))
                    if on_day:
                        on_day(self.stats)
                    await asyncio.sleep(
                        max(0.0, self.seconds_per_day - (time.monotonic() - started))
                    )
                while labels:  # the last days' flights land too
                    await self.send_feedback(producer, labels.popleft())
        finally:
            await producer.stop()
        return self.stats
