"""The demo's delayed labels: one Feedback per predicted flight, after its prediction."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from continuum.cli.demo import replay
from continuum.cli.demo.observer import LoopEvents
from continuum.cli.demo.replay import Replayer, feedback_records
from continuum.cli.demo.summary import DemoSummary, _quality_line
from continuum.cli.flights_data import load_flights
from continuum.contracts import Feedback, QualityMeasured, decode_event, utc_now
from continuum.contracts.topics import FEEDBACK


def test_feedback_records_join_on_the_flight_id_and_carry_the_label() -> None:
    record = {"flight_id": "AA1-2013010110", "time_hour": "2013-01-01T10:00:00Z", "delayed": 1}
    (item,) = feedback_records("flights", [record])
    assert item.topic == FEEDBACK
    assert item.key == b"flights"
    assert item.headers["ce_type"] == "continuum.feedback"
    event = decode_event(item.value)
    assert isinstance(event, Feedback)
    assert event.entity_id == "AA1-2013010110"
    assert event.request_id is None
    assert event.label == 1
    assert event.event_time is not None and event.event_time.isoformat() == (
        "2013-01-01T10:00:00+00:00"
    )


class _FakeProducer:
    log: list[tuple[str, Any]]

    def __init__(self, **_: Any) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[None]:
        self.log.append(("send", (topic, value)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.mark.parametrize("delay", [0, 1])
async def test_labels_follow_the_predictions_of_the_flights_serving_answered(
    monkeypatch: pytest.MonkeyPatch, delay: int
) -> None:
    log: list[tuple[str, Any]] = []
    _FakeProducer.log = log
    monkeypatch.setattr(replay, "AIOKafkaProducer", _FakeProducer)
    flights = load_flights((1, 1), every=200)

    async def predict(self: Replayer, http: Any, records: list[dict[str, Any]]) -> Any:
        answered = records[::2]  # serving answered only some of them
        log.append(("predict", [r["flight_id"] for r in answered]))
        return answered

    monkeypatch.setattr(Replayer, "predict", predict)
    replayer = Replayer(
        flights=flights,
        serving_url="http://serving",
        pipeline="flights",
        source_topic="flights.raw",
        bootstrap_servers="unused",
        seconds_per_day=0,
        label_delay_days=delay,
    )
    stats = await replayer.run()

    predicted_at = {
        flight: i for i, (kind, ids) in enumerate(log) if kind == "predict" for flight in ids
    }
    label_positions = [
        i for i, (kind, payload) in enumerate(log) if kind == "send" and payload[0] == FEEDBACK
    ]
    labels = [decode_event(log[i][1][1]) for i in label_positions]
    assert len(labels) == len(predicted_at) == stats.feedback_sent
    by_id = {r["flight_id"]: r for r in replay.to_records(flights, labelled=True)}
    for position, event in zip(label_positions, labels, strict=True):
        assert isinstance(event, Feedback)
        assert event.entity_id is not None
        assert position > predicted_at[event.entity_id]  # predict first, then the truth
        assert event.label == by_id[event.entity_id]["delayed"]
    if delay:
        # A day's labels come after the next day's predictions.
        first_label = label_positions[0]
        assert sum(1 for kind, _ in log[:first_label] if kind == "predict") == 2


def test_observer_and_summary_count_quality_measurements() -> None:
    now = utc_now()
    measured = QualityMeasured(
        pipeline="flights",
        model_version=2,
        window_start=now,
        window_end=now,
        rows=1000,
        metric="roc_auc",
        value=0.71234,
        std_error=0.01567,
    )
    events = LoopEvents(pipeline="flights")
    events.add(measured.model_dump_json().encode())
    events.add(measured.model_dump_json().encode())  # redelivered
    assert list(events.quality) == [str(measured.event_id)]

    summary = DemoSummary(
        model_versions=[],
        drift_events=[],
        champion_version=2,
        served_version=2,
        seconds=1.0,
        feedback_sent=12345,
        quality_events=1,
        last_live_quality={
            "model_version": 2,
            "metric": "roc_auc",
            "value": 0.7123,
            "std_error": 0.0157,
            "rows": 1000,
        },
    )
    assert _quality_line(summary) == "12,345 / 1 (last: v2 roc_auc 0.7123 ± 0.0157 on 1000 rows)"
