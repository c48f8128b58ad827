"""A served pipeline with a feature view: requests send ids and request-time features only.

The app runs with its lifespan (Kafka in memory), the online store is a real SQLite file
the test writes as ingest would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from serving_testkit import new_store, running, wait_for
from test_enrichment import AS_OF, trained_model, view_spec
from test_prediction_log import _collect_predictions

from continuum.contracts import ModelArtifacts, PredictionLogged
from continuum.featurestore import FeatureRow, open_online_store, view_key
from continuum.modelkit import build_reference_sample, dump_model, frame_to_parquet
from continuum.registry_client.testing import FakeRegistry
from continuum.storage import MemoryObjectStore


def registry_with_view_model(store: MemoryObjectStore) -> FakeRegistry:
    spec = view_spec()
    model = trained_model(spec)
    frame = pd.DataFrame(
        {"distance": [100.0, 200.0], "carrier": ["AA", "UA"], "carrier_rate": [0.1, 0.9]}
    )
    sample = build_reference_sample(spec, model.pipeline, frame)
    artifacts = ModelArtifacts(
        model=store.put("flights/v1/model.skops", dump_model(model.pipeline)),
        reference_sample=store.put("flights/v1/reference.parquet", frame_to_parquet(sample)),
        model_card=store.put("flights/v1/model_card.json", json.dumps({"v": 1}).encode()),
    )
    registry = FakeRegistry()
    registry.apply(spec)
    registry.add_model("flights", 1, artifacts, champion=True)
    return registry


async def test_serving_enriches_requests_from_the_online_store(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'online.db'}"
    online = open_online_store(uri)
    rows = [
        FeatureRow("AA", AS_OF, {"carrier_rate": 0.9, "carrier_flights": 200.0}),
        FeatureRow("UA", AS_OF, {"carrier_rate": 0.05, "carrier_flights": 120.0}),
    ]
    online.write(view_key("flights", "carrier_recent"), rows)
    store = new_store()
    seen: list[PredictionLogged] = []
    registry = registry_with_view_model(store)
    async with running(
        registry, store, setup=_collect_predictions(seen), online_store_uri=uri
    ) as world:
        records = [
            {"distance": 500.0, "carrier": "AA", "flight_id": "f1"},
            {"distance": 500.0, "carrier": "UA", "flight_id": "f2"},
            {"distance": 500.0, "carrier": "ZZ", "flight_id": "f3"},
        ]
        response = await world.predict(records)
        assert response.status_code == 200, response.text
        answers = [p["prediction"] for p in response.json()["predictions"]]
        assert answers[:2] == [1, 0]

        await wait_for(lambda: len(seen) == 3, "three logged predictions")
        logged = [e.features for e in seen]
        assert [f["carrier_rate"] for f in logged] == [0.9, 0.05, 0.2]
        assert [f["carrier_flights"] for f in logged] == [200.0, 120.0, 0.0]
        assert (
            world.metric(
                "continuum_serving_feature_lookup_seconds_count",
                pipeline="flights",
                view="carrier_recent",
            )
            == 1.0
        )

        # A newer value written by ingest is what the next request sees.
        later = AS_OF.replace(day=3)
        online.write(
            view_key("flights", "carrier_recent"),
            [FeatureRow("AA", later, {"carrier_rate": 0.01, "carrier_flights": 200.0})],
        )
        response = await world.predict(records[:1])
        assert response.json()["predictions"][0]["prediction"] == 0

        refused = await world.predict([{**records[0], "carrier_flights": 3}])
        assert refused.status_code == 422
        [error] = refused.json()["detail"]
        assert error["loc"] == ["body", "records", 0, "carrier_flights"]

        # The V2 metadata lists what a client sends: the request-time inputs only.
        metadata = (await world.client.get("/v2/models/flights")).json()
        assert [i["name"] for i in metadata["inputs"]] == ["distance", "carrier"]
    online.close()
