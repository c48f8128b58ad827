from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from continuum.contracts import (
    ColumnDrift,
    DataBatchReady,
    DataVersion,
    DriftDetected,
    Feedback,
    ModelArtifacts,
    ModelPromoted,
    ModelRegistered,
    ModelTrained,
    OffsetRange,
    PipelineChanged,
    PredictionLogged,
    PredictionRecord,
    PredictionsLogged,
    QualityMeasured,
    RecordRejected,
    RejectionReason,
    RolloutChanged,
    RolloutEvaluated,
    SourceCoordinates,
    StoredObject,
    TrainingRequested,
    batch_id_for,
    decode_event,
    encode_event,
)
from continuum.contracts.envelope import Event
from continuum.contracts.topics import ALL_TOPICS, TOPIC_BY_EVENT, dlq_topic, topic_for

SHA = "a" * 64
OBJ = StoredObject(uri="file:///tmp/x", sha256=SHA, size_bytes=10)
ARTIFACTS = ModelArtifacts(model=OBJ, reference_sample=OBJ, model_card=OBJ)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _examples() -> list[Event]:
    ranges = [OffsetRange(topic="flights.raw", partition=0, first=0, last=9)]
    return [
        DataBatchReady(
            pipeline="flights",
            batch_id=batch_id_for("flights", ranges),
            offset_ranges=ranges,
            storage=OBJ,
            row_count=10,
            labelled_row_count=9,
            spec_version=1,
        ),
        RecordRejected(
            pipeline="flights",
            source=SourceCoordinates(topic="flights.raw", partition=1, offset=5),
            reasons=[RejectionReason(field="dep_delay", reason="must be a number")],
            raw='{"dep_delay": "x"}',
        ),
        Feedback(pipeline="flights", request_id="r-1", label=1),
        TrainingRequested(pipeline="flights", trigger="manual", requested_by="ana"),
        ModelTrained(
            pipeline="flights",
            run_id="run-1",
            trigger="new_data",
            status="succeeded",
            spec_version=1,
            data_version=DataVersion.of(["b-1", "b-2"]),
            artifacts=ARTIFACTS,
            metric="roc_auc",
            metrics={"roc_auc": 0.71},
        ),
        ModelRegistered(
            pipeline="flights",
            run_id="run-1",
            version=1,
            trigger="new_data",
            decision="promoted",
            decision_reason="no champion yet",
        ),
        ModelPromoted(pipeline="flights", version=1, artifacts=ARTIFACTS, reason="gate"),
        PredictionLogged(
            pipeline="flights",
            request_id="r-1",
            model_version=1,
            features={"distance": 1000.0, "origin": "JFK"},
            prediction=1,
            probabilities={"0": 0.3, "1": 0.7},
        ),
        _prediction_batch(),
        DriftDetected(
            pipeline="flights",
            model_version=1,
            window_start=NOW,
            window_end=NOW + timedelta(hours=1),
            window_rows=500,
            drift_share=0.5,
            threshold=0.3,
            columns=[ColumnDrift(column="x", method="psi", score=0.4, threshold=0.1, drifted=True)],
        ),
        QualityMeasured(
            pipeline="flights",
            model_version=2,
            window_start=NOW,
            window_end=NOW + timedelta(hours=1),
            rows=2000,
            metric="roc_auc",
            value=0.71,
            std_error=0.012,
            metrics={"roc_auc": 0.71, "accuracy": 0.8},
            drift_share=0.2,
        ),
        PipelineChanged(pipeline="flights", spec_version=2, spec_sha256=SHA, source_topic="t"),
        RolloutChanged(
            pipeline="flights",
            rollout_id="ro-1",
            strategy="canary",
            champion_version=1,
            candidate_version=2,
            step=0,
            traffic_share=0.1,
            state="started",
        ),
        RolloutEvaluated(
            pipeline="flights",
            rollout_id="ro-1",
            step=0,
            candidate_version=2,
            champion_version=1,
            metric="roc_auc",
            candidate_value=0.70,
            champion_value=0.72,
            candidate_std_error=0.02,
            champion_std_error=0.01,
            candidate_rows=300,
            champion_rows=2700,
            candidate_error_rate=0.0,
            candidate_latency_ms=0.4,
            champion_latency_ms=0.3,
        ),
    ]


def _prediction_batch() -> PredictionsLogged:
    return PredictionsLogged(
        pipeline="flights",
        model_version=3,
        predictions=[
            PredictionRecord(
                request_id=f"r-1:{i}",
                occurred_at=NOW,
                features={"distance": 1000.0 + i, "origin": "JFK"},
                prediction=i % 2,
                probabilities={"0": 0.4, "1": 0.6},
                entity_id=f"f-{i}" if i else None,
                event_time=NOW - timedelta(minutes=i),
            )
            for i in range(3)
        ],
    )


def test_a_prediction_batch_expands_to_one_event_per_prediction_with_stable_ids() -> None:
    batch = decode_event(encode_event(_prediction_batch(), source="tests").value)
    assert isinstance(batch, PredictionsLogged)
    events = batch.events()
    assert [e.request_id for e in events] == ["r-1:0", "r-1:1", "r-1:2"]
    assert [e.features["distance"] for e in events] == [1000.0, 1001.0, 1002.0]
    assert [e.entity_id for e in events] == [None, "f-1", "f-2"]
    assert all(e.model_version == 3 and e.pipeline == "flights" for e in events)
    assert {e.correlation_id for e in events} == {batch.correlation_id}
    assert events[2].event_time == NOW - timedelta(minutes=2)
    # Distinct per prediction, and the same again for a redelivered batch.
    assert len({e.event_id for e in events}) == 3
    assert [e.event_id for e in batch.events()] == [e.event_id for e in events]
    assert all(PredictionLogged.model_validate(e.model_dump()) == e for e in events)


def test_a_prediction_batch_from_before_rollouts_decodes_as_the_champions() -> None:
    wire = _prediction_batch().model_dump(mode="json")
    for field in ("arm", "rollout_id", "inference_seconds", "errors"):
        wire.pop(field)
    batch = PredictionsLogged.model_validate(wire)
    assert (batch.arm, batch.rollout_id, batch.inference_seconds, batch.errors) == (
        "champion",
        None,
        0.0,
        0,
    )


def test_a_prediction_batch_names_the_arm_that_answered() -> None:
    batch = _prediction_batch().model_copy(
        update={"arm": "shadow", "rollout_id": "ro-1", "inference_seconds": 0.002, "errors": 1}
    )
    decoded = decode_event(encode_event(batch, source="tests").value)
    assert isinstance(decoded, PredictionsLogged)
    assert (decoded.arm, decoded.rollout_id, decoded.errors) == ("shadow", "ro-1", 1)
    with pytest.raises(ValidationError):
        PredictionsLogged.model_validate({**batch.model_dump(), "arm": "nobody"})


def test_an_empty_prediction_batch_is_refused() -> None:
    with pytest.raises(ValidationError):
        PredictionsLogged(pipeline="flights", model_version=1, predictions=[])


def test_examples_cover_every_event_type() -> None:
    assert {type(e) for e in _examples()} == set(TOPIC_BY_EVENT)


@pytest.mark.parametrize("event", _examples(), ids=lambda e: type(e).__name__)
def test_event_round_trips_through_kafka_encoding(event: Event) -> None:
    record = encode_event(event, source="tests")
    assert record.topic == topic_for(event)
    assert record.key == b"flights"
    assert decode_event(record.value) == event
    assert record.headers["ce_id"] == str(event.event_id)
    assert record.headers["ce_type"] == event.event_type
    assert record.headers["ce_source"] == "tests"
    assert record.headers["ce_specversion"] == "1.0"
    assert record.headers["ce_time"].endswith("Z")
    assert record.headers["ce_correlationid"] == str(event.correlation_id)


def test_events_are_frozen() -> None:
    event = TrainingRequested(pipeline="flights")
    with pytest.raises(ValidationError):
        event.pipeline = "other"  # type: ignore[misc]


def test_occurred_at_is_normalised_to_utc_and_naive_times_are_refused() -> None:
    cet = timezone(timedelta(hours=1))
    event = TrainingRequested(pipeline="p", occurred_at=datetime(2026, 1, 1, 12, tzinfo=cet))
    assert event.occurred_at == datetime(2026, 1, 1, 11, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError, match="timezone"):
        TrainingRequested(pipeline="p", occurred_at=datetime(2026, 1, 1))


@pytest.mark.parametrize("name", ["", "Flights", "1abc", "a b", "x" * 64])
def test_bad_pipeline_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="pipeline"):
        TrainingRequested(pipeline=name)


def test_unknown_fields_from_newer_producers_are_ignored() -> None:
    event = TrainingRequested(pipeline="p")
    payload = event.model_dump(mode="json") | {"added_in_v2": True}
    assert decode_event(__import__("json").dumps(payload)) == event


def test_decode_refuses_an_unknown_event_type() -> None:
    with pytest.raises(ValidationError, match="event_type"):
        decode_event('{"event_type": "nope", "pipeline": "p"}')


def test_feedback_needs_a_join_key() -> None:
    with pytest.raises(ValidationError, match="request_id or an entity_id"):
        Feedback(pipeline="p", label=1)


def test_batch_id_is_deterministic_and_order_independent() -> None:
    a = OffsetRange(topic="t", partition=0, first=0, last=9)
    b = OffsetRange(topic="t", partition=1, first=5, last=7)
    assert batch_id_for("p", [a, b]) == batch_id_for("p", [b, a])
    assert batch_id_for("p", [a]) != batch_id_for("p", [a, b])
    assert batch_id_for("p", [a]) != batch_id_for("q", [a])


def test_data_version_hash_depends_on_order() -> None:
    assert DataVersion.of(["x", "y"]).hash != DataVersion.of(["y", "x"]).hash
    assert DataVersion.of(["x", "y"]) == DataVersion.of(["x", "y"])


def test_topics_are_unique_and_dlq_names_derive_from_them() -> None:
    assert len(set(ALL_TOPICS)) == len(ALL_TOPICS)
    assert dlq_topic("continuum.predictions") == "continuum.predictions.dlq"


def test_bad_sha256_is_refused() -> None:
    with pytest.raises(ValidationError, match="sha256"):
        StoredObject(uri="file:///x", sha256="nothex", size_bytes=1)
