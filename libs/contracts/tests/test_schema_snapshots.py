"""JSON-schema snapshots: an accidental change to a contract fails CI.

An intended change is recorded by running
``CONTINUUM_UPDATE_SNAPSHOTS=1 uv run pytest libs/contracts`` and committing the
new snapshot beside the code change (and, if it breaks readers, a schema_version bump).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from continuum.contracts.topics import TOPIC_BY_EVENT

SNAPSHOTS = Path(__file__).parent / "schemas"
EVENT_TYPES = sorted(TOPIC_BY_EVENT, key=lambda cls: cls.__name__)


def _schema_text(cls: type) -> str:
    return json.dumps(cls.model_json_schema(mode="serialization"), indent=2, sort_keys=True) + "\n"  # type: ignore[attr-defined]


@pytest.mark.parametrize("event_cls", EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_event_schema_matches_snapshot(event_cls: type) -> None:
    snapshot = SNAPSHOTS / f"{event_cls.__name__}.json"
    current = _schema_text(event_cls)
    if os.environ.get("CONTINUUM_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(current)
    assert snapshot.exists(), (
        f"no snapshot for {event_cls.__name__}: run with CONTINUUM_UPDATE_SNAPSHOTS=1"
    )
    assert current == snapshot.read_text(), (
        f"the JSON schema of {event_cls.__name__} changed. If intended, regenerate with "
        "CONTINUUM_UPDATE_SNAPSHOTS=1 and bump schema_version when old readers would break."
    )


def test_every_snapshot_belongs_to_an_event() -> None:
    names = {cls.__name__ for cls in EVENT_TYPES}
    stale = {p.stem for p in SNAPSHOTS.glob("*.json")} - names
    assert not stale, f"snapshots for events that no longer exist: {sorted(stale)}"
