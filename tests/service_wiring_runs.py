"""Each service in memory, built as its own unit tests build it, through every path that
publishes: what it subscribes to and publishes is recorded in a :class:`Wiring`.

Each run also sends a malformed message to every topic its broker subscribes to, which
the dead-letter middleware (or the batch handlers' dead-letter queue) must publish to
``<topic>.dlq``. Ingest's source topics are read by its own aiokafka consumer, stood for
here by :class:`_SourceConsumer`, and its events leave through its own producer.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from aiokafka import TopicPartition
from faststream.kafka import TestApp, TestKafkaBroker
from wiring_kit import Recorder, RecordingProducer, Wiring, subscribed_topics

from continuum.contracts import (
    DataVersion,
    Feedback,
    ModelTrained,
    PredictionLogged,
    PredictionRecord,
    PredictionsLogged,
    RolloutChanged,
    parse_spec_yaml,
    utc_now,
)
from continuum.contracts.topics import PREDICTIONS
from continuum.kafka import KafkaSettings
from continuum.registry_client import RegistryClient
from continuum.registry_client.testing import FakeRegistry
from continuum.storage import MemoryObjectStore


class _Polled:
    def __init__(self, offset: int, value: bytes) -> None:
        self.offset, self.value = offset, value


class _SourceConsumer:
    """Stands for aiokafka's consumer: one poll of ``records`` on partition 0 of each
    subscribed topic, then it stops the loop."""

    def __init__(self, loop: Any, records: list[dict[str, Any]]) -> None:
        self.loop, self.records = loop, records
        self.subscribed: set[str] = set()
        self.listener: Any = None

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        """Nothing to close."""

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.subscribed, self.listener = set(topics), listener

    def unsubscribe(self) -> None:
        self.subscribed = set()

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[_Polled]]:
        if not self.records:
            self.loop.stop()
            return {}
        tps = [TopicPartition(topic, 0) for topic in sorted(self.subscribed)]
        await self.listener.on_partitions_assigned(tps)
        values = [json.dumps(record).encode() for record in self.records]
        self.records = []
        return {tp: [_Polled(i, value) for i, value in enumerate(values)] for tp in tps}

    async def commit(self, offsets: Any) -> None:
        """Offsets are not what this run checks."""

    def seek(self, tp: Any, offset: int) -> None: ...

    def pause(self, *tps: Any) -> None: ...

    def resume(self, *tps: Any) -> None: ...


async def ingest_run(tmp_path: Path) -> Wiring:
    """A valid and an invalid record on a pipeline's source topic; flushed at stop."""
    from ingest_testkit import good, make_spec

    from continuum.ingest.bootstrap import build
    from continuum.ingest.settings import IngestSettings

    registry = FakeRegistry()
    spec = make_spec()
    registry.apply(spec)
    settings = IngestSettings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"),
        data_root=f"memory://wiring-ingest-{uuid4().hex}",
        registry_url="http://127.0.0.1:1",
        retry_backoff_seconds=0.01,
        tick_seconds=0.01,
    )
    parts = build(settings, registry=registry.client())
    wiring = Wiring(subscribes=subscribed_topics(parts.broker), sources={spec.source_topic})
    recorder = Recorder(parts.broker, wiring)
    service = parts.service
    service.publisher.producer = RecordingProducer(wiring.published)
    consumer = _SourceConsumer(service.loop, [good(), good(distance=-5.0)])
    service.loop.make_consumer = lambda: consumer
    await service.sync.sync_all()
    await service.loop.run()
    wiring.subscribes |= consumer.subscribed
    async with TestKafkaBroker(parts.broker):
        await recorder.probe(subscribed_topics(parts.broker))
    return wiring


async def trainer_run(tmp_path: Path) -> Wiring:
    """Enough new labelled rows for a run, which trains and announces its model."""
    from trainer_testkit import Harness, make_spec

    from continuum.trainer.app import app_for
    from continuum.trainer.bootstrap import build

    harness = Harness(tmp_path, make_spec(min_new_labelled_rows=300))
    parts = build(harness.settings, registry=harness.registry.client())
    wiring = Wiring(subscribes=subscribed_topics(parts.broker))
    recorder = Recorder(parts.broker, wiring)
    async with TestKafkaBroker(parts.broker), TestApp(app_for(parts)):
        await recorder.send(harness.batch(400))
        await parts.service.runner.idle()
        await recorder.probe(wiring.subscribes)
    return wiring


async def registry_run(tmp_path: Path) -> Wiring:
    """A spec applied, a trained model registered and promoted, a training request."""
    from registry_testkit import SPEC_YAML, TOKEN, ArtifactMaker, registry_settings

    from continuum.registry.app import create_app

    store = MemoryObjectStore(f"memory://wiring-registry-{uuid4().hex}")
    spec = parse_spec_yaml(SPEC_YAML)
    app = create_app(registry_settings(tmp_path, store))
    broker = app.state.broker
    wiring = Wiring(subscribes=subscribed_topics(broker))
    recorder = Recorder(broker, wiring)
    transport = httpx.ASGITransport(app=app)
    async with (
        TestKafkaBroker(broker),
        app.router.lifespan_context(app),
        RegistryClient("http://registry", token=TOKEN, transport=transport) as client,
    ):
        await client.apply_spec(spec.name, SPEC_YAML)
        artifacts = ArtifactMaker(spec, store)
        trained = ModelTrained(
            pipeline=spec.name,
            run_id="run-1",
            trigger="new_data",
            status="succeeded",
            spec_version=1,
            data_version=DataVersion.of(["b-1"]),
            artifacts=artifacts("run-1", "good"),
            metric="roc_auc",
            metrics=artifacts.metrics("good"),
            params={},
            training_seconds=1.0,
        )
        await recorder.send(trained)
        await client.request_training(spec.name, reason="wiring test")
        # A second version rolled out by hand, then aborted: RolloutChanged twice.
        second = trained.model_copy(
            update={"run_id": "run-2", "artifacts": artifacts("run-2", "fair"), "event_id": uuid4()}
        )
        await recorder.send(second)
        await client.start_rollout(spec.name, 2, reason="wiring test")
        await client.abort_rollout(spec.name, reason="wiring test")
        await recorder.probe(wiring.subscribes)
    return wiring


async def serving_run(tmp_path: Path) -> Wiring:
    """One prediction request, whose predictions are logged to Kafka."""
    from serving_testkit import make_record, new_store, registry_with_champion, running, wait_for

    from continuum.serving.bootstrap import ServingParts

    store = new_store()
    wiring = Wiring()
    recorders: list[Recorder] = []

    def setup(parts: ServingParts) -> None:
        wiring.subscribes = subscribed_topics(parts.broker)
        recorders.append(Recorder(parts.broker, wiring))

    async with running(registry_with_champion(store, versions=1), store, setup=setup) as world:
        response = await world.predict([make_record()])
        assert response.status_code == 200, response.text
        await wait_for(lambda: PREDICTIONS in wiring.published, "the prediction log")
        await recorders[0].probe(wiring.subscribes)
    return wiring


def rollout_started(pipeline: str, *, champion: int, candidate: int) -> RolloutChanged:
    """The registry's start of a canary (step 0, a fifth of the traffic)."""
    return RolloutChanged(
        pipeline=pipeline,
        rollout_id="wiring-rollout",
        strategy="canary",
        champion_version=champion,
        candidate_version=candidate,
        step=0,
        traffic_share=0.2,
        state="started",
        occurred_at=utc_now() - timedelta(minutes=1),
    )


def rollout_batch(logged: list[PredictionLogged], *, arm: str, version: int) -> PredictionsLogged:
    """Serving's message for one arm of the rollout: ``logged``'s predictions, its ids."""
    return PredictionsLogged(
        pipeline=logged[0].pipeline,
        model_version=version,
        arm=arm,  # type: ignore[arg-type]
        rollout_id="wiring-rollout",
        inference_seconds=0.01,
        predictions=[
            PredictionRecord(
                request_id=f"{arm}-{p.request_id}",
                occurred_at=utc_now(),
                features=p.features,
                prediction=p.prediction,
                probabilities=p.probabilities,
            )
            for p in logged
        ],
    )


async def monitor_run(tmp_path: Path) -> Wiring:
    """A champion, shifted traffic (drift) and a window of feedback (live quality)."""
    from monitor_testkit import (
        PIPELINE,
        make_spec,
        predictions,
        put_artifacts,
        reference_frame,
        registry_promotes,
        traffic,
    )

    from continuum.monitor.bootstrap import build
    from continuum.monitor.settings import MonitorSettings

    store = MemoryObjectStore(f"memory://wiring-monitor-{uuid4().hex}")
    registry = FakeRegistry()
    registry.apply(make_spec(window_rows=200, threshold=0.3, cooldown=3600))
    settings = MonitorSettings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", transient_retry_backoff_seconds=0.001),
        state_dir=tmp_path,
        artifact_root="memory://unused",
        registry_url="http://127.0.0.1:1",
    )
    parts = build(settings, registry=registry.client(), store=store)
    wiring = Wiring(subscribes=subscribed_topics(parts.broker))
    recorder = Recorder(parts.broker, wiring)
    promoted = registry_promotes(registry, 1, put_artifacts(store, 1, reference_frame()))
    logged = predictions(traffic(400, shift=1.0, seed=21), version=1)
    async with TestKafkaBroker(parts.broker):
        await parts.monitor.bootstrap()
        await recorder.send(promoted)
        for event in logged:
            await recorder.send(event)
        # A live quality window is the spec's window_rows (200) of labelled predictions.
        for event in logged[:200]:
            await recorder.send(
                Feedback(pipeline=PIPELINE, request_id=event.request_id, label=event.prediction)
            )
        # A canary step with the spec's min_labelled (300) labelled predictions per arm.
        await recorder.send(rollout_started(PIPELINE, champion=1, candidate=2))
        for arm, version in (("champion", 1), ("candidate", 2)):
            batch = rollout_batch(logged[:300], arm=arm, version=version)
            await recorder.send(batch)
            for record in batch.predictions:
                label = Feedback(pipeline=PIPELINE, request_id=record.request_id, label=1)
                await recorder.send(label.model_copy(update={"label": record.prediction}))
        await recorder.probe(wiring.subscribes)
    return wiring
