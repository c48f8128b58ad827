"""Every prediction is published to continuum.predictions, without ever failing a request."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaMessage
from serving_testkit import make_record, new_store, registry_with_champion, running, wait_for

from continuum.contracts import PredictionLogged, PredictionsLogged, decode_event
from continuum.contracts.topics import PREDICTIONS
from continuum.kafka import keyring_of, verify_record
from continuum.serving.bootstrap import ServingParts


def _collect_predictions(
    into: list[PredictionLogged], messages: list[PredictionsLogged] | None = None
) -> Any:
    """Collect what the monitor would: each message verified, decoded and expanded."""

    def setup(parts: ServingParts) -> None:
        keyring = keyring_of(parts.broker)

        @parts.broker.subscriber(PREDICTIONS, group_id="test-monitor")
        async def collect(message: KafkaMessage) -> None:
            verify_record(keyring, message.raw_message)
            event = decode_event(message.body)
            assert isinstance(event, PredictionsLogged)
            if messages is not None:
                messages.append(event)
            into.extend(event.events())

    return setup


async def test_each_prediction_is_published_with_its_request_id() -> None:
    store = new_store()
    seen: list[PredictionLogged] = []
    messages: list[PredictionsLogged] = []
    registry = registry_with_champion(store)
    async with running(registry, store, setup=_collect_predictions(seen, messages)) as world:
        rng = random.Random(3)
        records = [make_record(rng) for _ in range(5)]
        records[2]["flight_id"] = 12345  # integer ids are accepted, logged as strings
        records[3]["time_hour"] = "2013-06-01T12:30:00"  # naive: taken as UTC
        response = await world.predict(records)
        assert response.status_code == 200
        body = response.json()
        await wait_for(lambda: len(seen) == 5, "five prediction events")

        request_id = body["request_id"]
        assert [e.request_id for e in seen] == [f"{request_id}:{i}" for i in range(5)]
        champion = registry.models[("flights", 1)]
        for event, record, answer in zip(seen, records, body["predictions"], strict=True):
            assert event.pipeline == "flights"
            assert event.model_version == 1
            assert str(event.correlation_id) == champion.correlation_id
            assert event.prediction == answer["prediction"]
            assert event.probabilities == answer["probabilities"]
            assert event.features == {
                k: record[k] for k in ("dep_delay", "distance", "origin", "carrier")
            }
            assert event.entity_id == str(record["flight_id"])
        assert seen[0].event_time == datetime(2013, 1, 1, 5, tzinfo=UTC)
        assert seen[3].event_time == datetime(2013, 6, 1, 12, 30, tzinfo=UTC)
        assert world.metric("continuum_serving_prediction_logs_published_total") == 5
        assert len(messages) == 1  # one signed message for the request's five predictions
        # Outside a rollout: the champion's arm, no rollout, the model time it took.
        assert (messages[0].arm, messages[0].rollout_id, messages[0].errors) == (
            "champion",
            None,
            0,
        )
        assert messages[0].inference_seconds > 0


async def test_full_log_queue_drops_and_counts_but_requests_succeed() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store, log_queue_size=2) as world:
        rng = random.Random(4)
        # The request path fills the queue without yielding, so 8 of 10 cannot fit.
        response = await world.predict([make_record(rng) for _ in range(10)])
        assert response.status_code == 200
        assert len(response.json()["predictions"]) == 10
        assert (
            world.metric("continuum_serving_prediction_logs_dropped_total", pipeline="flights") == 8
        )
        second = await world.predict([make_record(rng) for _ in range(3)])
        assert second.status_code == 200


async def test_kafka_refusing_predictions_never_fails_a_request() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store) as world:
        state = world.parts

        async def refuse(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("kafka is down")

        state.broker.publish = refuse  # type: ignore[method-assign]
        response = await world.predict([make_record(), make_record()])
        assert response.status_code == 200
        await wait_for(
            lambda: world.metric("continuum_serving_prediction_logs_failed_total") == 2,
            "the failed batch to be counted",
        )
        assert (await world.predict([make_record()])).status_code == 200


async def test_shutdown_publishes_what_is_queued() -> None:
    store = new_store()
    seen: list[PredictionLogged] = []
    setup = _collect_predictions(seen)
    async with running(registry_with_champion(store), store, setup=setup) as world:
        rng = random.Random(5)
        responses = [await world.predict([make_record(rng) for _ in range(50)]) for _ in range(4)]
        assert all(r.status_code == 200 for r in responses)
    assert len(seen) == 200


async def test_a_burst_beyond_the_queue_is_dropped_and_counted_and_no_request_waits() -> None:
    store = new_store()
    async with running(registry_with_champion(store), store, log_queue_size=20) as world:
        kafka_answers = asyncio.Event()
        publishing: list[int] = []

        async def hung(*args: Any, **kwargs: Any) -> None:
            # Kafka accepts nothing until the test lets it: the queue cannot drain.
            publishing.append(1)
            await kafka_answers.wait()

        world.parts.broker.publish = hung  # type: ignore[method-assign]
        rng = random.Random(6)
        bodies = [[make_record(rng) for _ in range(5)] for _ in range(10)]
        # 50 predictions at once into a queue of 20, the publisher stuck: every request
        # still gets its answer (none waits for the log), 30 predictions are dropped.
        responses = await asyncio.gather(*(world.predict(body) for body in bodies))
        assert [r.status_code for r in responses] == [200] * 10
        assert all(len(r.json()["predictions"]) == 5 for r in responses)
        assert (
            world.metric("continuum_serving_prediction_logs_dropped_total", pipeline="flights")
            == 30
        )
        assert world.metric("continuum_serving_prediction_log_queue_depth") == 20
        kafka_answers.set()
        await wait_for(
            lambda: world.metric("continuum_serving_prediction_logs_published_total") == 20,
            "the queued predictions to be published once Kafka answers",
        )
        assert publishing  # the stuck publisher was really in the way
