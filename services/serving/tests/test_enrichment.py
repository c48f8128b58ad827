"""Feature-view enrichment: records sending only ids and request-time features are filled
from the online store, one read per micro-batch and view; a missing entity gets defaults."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from continuum.contracts import PipelineSpec
from continuum.featurestore import FeatureRow, MemoryOnlineStore, view_key
from continuum.modelkit import LoadedModel, build_pipeline, labels, records_to_frame
from continuum.serving.enrichment import EnrichedModel, FeatureLookup
from continuum.serving.inference import MicroBatcher
from continuum.serving.validation import RecordValidator, RequestInvalidError

AS_OF = datetime(2013, 1, 2, tzinfo=UTC)


def view_spec() -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "name": "flights",
            "source_topic": "flights.records",
            "task": "binary_classification",
            "schema": {
                "features": [
                    {"name": "distance", "type": "numeric"},
                    {"name": "carrier", "type": "categorical"},
                ],
                "target": {"name": "late"},
                "event_time": "time_hour",
                "entity_id": "flight_id",
            },
            "model": {"estimator": "LogisticRegression"},
            "promotion": {"metric": "roc_auc"},
            "feature_views": [
                {
                    "name": "carrier_recent",
                    "entity": "carrier",
                    "window_events": 200,
                    "features": [
                        {"name": "carrier_rate", "function": "mean", "column": "late",
                         "default": 0.2},
                        {"name": "carrier_flights", "function": "count"},
                    ],
                }
            ],
        }
    )  # fmt: skip


class CountingStore(MemoryOnlineStore):
    """The memory store, counting reads and the entities each asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[list[str]] = []

    def read(self, view: str, entities: Sequence[str]) -> dict[str, FeatureRow]:
        self.reads.append(list(entities))
        return super().read(view, entities)


def trained_model(spec: PipelineSpec) -> LoadedModel:
    """A model whose answer is the carrier's recent delay rate (a view feature)."""
    rng = random.Random(0)
    records = []
    for _ in range(400):
        rate = rng.random()
        records.append(
            {
                "distance": rng.uniform(100, 2500),
                "carrier": rng.choice(["AA", "UA"]),
                "carrier_rate": rate,
                "carrier_flights": float(rng.randrange(200)),
                "late": int(rate > 0.5),
            }
        )
    pipeline = build_pipeline(spec).fit(records_to_frame(spec, records), labels(spec, records))
    return LoadedModel(pipeline, spec, 1)


@pytest.fixture
def store() -> CountingStore:
    store = CountingStore()
    rows = [
        FeatureRow("AA", AS_OF, {"carrier_rate": 0.9, "carrier_flights": 200.0}),
        FeatureRow("UA", AS_OF, {"carrier_rate": 0.05, "carrier_flights": 120.0}),
    ]
    store.write(view_key("flights", "carrier_recent"), rows)
    return store


def enriched(store: CountingStore) -> tuple[LoadedModel, FeatureLookup]:
    spec = view_spec()
    registry = CollectorRegistry()
    lookup = FeatureLookup("memory://", registry, store=store)
    return EnrichedModel.wrap(trained_model(spec), lookup.enricher("flights", spec)), lookup


def test_records_with_only_ids_are_enriched_and_a_missing_entity_gets_defaults(
    store: CountingStore,
) -> None:
    model, lookup = enriched(store)
    validator = RecordValidator(model.spec)
    records = [
        {"distance": 500.0, "carrier": "AA", "flight_id": "f1"},
        {"distance": 500.0, "carrier": "UA", "flight_id": "f2"},
        {"distance": 500.0, "carrier": "ZZ", "flight_id": "f3"},
        {"distance": 500.0, "carrier": None, "flight_id": "f4"},
        {"distance": 900.0, "carrier": "AA", "flight_id": "f5"},
    ]
    checked = validator.check(records)
    predictions = model.predict_records(checked.values)
    assert predictions.labels[:2] == [1, 0]
    # One read for the batch, each entity once; a null carrier is not looked up.
    assert store.reads == [["AA", "UA", "ZZ"]]
    rates = [r["carrier_rate"] for r in records]
    counts = [r["carrier_flights"] for r in records]
    assert rates == [0.9, 0.05, 0.2, 0.2, 0.9]
    assert counts == [200.0, 120.0, 0.0, 0.0, 200.0]
    # The log reads the same dicts: the enriched features are logged.
    assert validator.features_of(records[2]) == {
        "distance": 500.0,
        "carrier": "ZZ",
        "carrier_rate": 0.2,
        "carrier_flights": 0.0,
    }
    assert lookup.seconds.labels("flights", "carrier_recent")._sum.get() > 0


def test_a_view_feature_sent_by_the_client_is_refused_naming_it() -> None:
    validator = RecordValidator(view_spec())
    with pytest.raises(RequestInvalidError) as caught:
        validator.check([{"distance": 1.0, "carrier": "AA", "carrier_rate": 0.5}])
    [error] = caught.value.errors
    assert error["loc"] == ["body", "records", 0, "carrier_rate"]
    assert "online store" in error["msg"]


async def test_concurrent_requests_share_one_read_per_micro_batch(store: CountingStore) -> None:
    model, _ = enriched(store)
    batcher = MicroBatcher(model, max_rows=100, inline_max_rows=0)
    validator = RecordValidator(model.spec)
    requests = [
        [{"distance": 100.0 * i, "carrier": carrier}] for i, carrier in enumerate(["AA", "UA"] * 3)
    ]
    results = await asyncio.gather(
        *(batcher.predict(validator.check(records).values) for records in requests)
    )
    assert [r.predictions.labels[0] for r in results] == [1, 0] * 3
    # Six requests that arrived together: one batch, one read, each carrier once.
    assert store.reads == [["AA", "UA"]]


def test_a_spec_without_views_is_served_as_before(store: CountingStore) -> None:
    spec = view_spec().model_copy(update={"feature_views": []})
    lookup = FeatureLookup("memory://", CollectorRegistry(), store=store)
    model = LoadedModel(build_pipeline(spec), spec, 1)
    assert lookup.enricher("flights", spec) is None
    assert EnrichedModel.wrap(model, None) is model
    record: dict[str, Any] = {"distance": 1.0, "carrier": "AA"}
    assert RecordValidator(spec).check([record]).values[0] is not record
