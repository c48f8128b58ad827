from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from continuum.cli import pipelines_commands
from continuum.cli.demo.observer import LoopEvents
from continuum.cli.demo.replay import malformed
from continuum.cli.demo.run import _loop_closed
from continuum.cli.demo.summary import DemoSummary
from continuum.cli.demo_command import _months
from continuum.cli.flights_data import load_flights, to_records
from continuum.cli.main import app
from continuum.contracts import TrainingRequested, parse_spec_yaml
from continuum.registry_client import RegistryClient


def test_apply_refuses_an_invalid_spec_before_calling_the_registry(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Bad Name\n")
    result = CliRunner().invoke(app, ["pipelines", "apply", str(bad)])
    assert result.exit_code == 1
    assert "is not a valid pipeline spec" in result.output


def test_registry_unreachable_is_a_clean_error() -> None:
    result = CliRunner().invoke(app, ["pipelines", "list", "--registry", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "registry unreachable" in result.output


def test_months_option() -> None:
    assert _months("1-6") == (1, 6)
    assert _months("3") == (3, 3)
    with pytest.raises(typer.BadParameter):
        _months("6-1")


def test_flights_are_time_ordered_labelled_and_json_ready() -> None:
    flights = load_flights((1, 1), every=50)
    assert flights["time_hour"].is_monotonic_increasing
    assert set(flights["delayed"].unique()) <= {0, 1}
    records = to_records(flights.head(20), labelled=True)
    assert {"flight_id", "time_hour", "delayed", "temp", "origin"} <= set(records[0])
    assert records[0]["time_hour"].endswith("Z")
    assert all(r["temp"] is None or isinstance(r["temp"], float) for r in records)
    assert "delayed" not in to_records(flights.head(1), labelled=False)[0]


def test_malformed_record_breaks_two_fields_and_keeps_an_id() -> None:
    bad = malformed({"flight_id": "AA1-2013010110", "distance": 100, "origin": "JFK"})
    assert bad["flight_id"] == "malformed-AA1-2013010110"
    assert bad["distance"] == "far" and bad["origin"] == "XYZ"


def test_observer_keeps_one_pipelines_events_once_each() -> None:
    from continuum.contracts import DriftDetected, utc_now

    def drift(pipeline: str) -> DriftDetected:
        now = utc_now()
        return DriftDetected(
            pipeline=pipeline,
            model_version=1,
            window_start=now,
            window_end=now,
            window_rows=10,
            drift_share=0.5,
            threshold=0.3,
            columns=[],
        )

    events = LoopEvents(pipeline="flights")
    mine = drift("flights")
    events.add(mine.model_dump_json().encode())
    events.add(mine.model_dump_json().encode())  # redelivered
    events.add(drift("other").model_dump_json().encode())
    events.add(TrainingRequested(pipeline="flights").model_dump_json().encode())
    events.add(b"not json")
    assert list(events.drift) == [str(mine.event_id)]


def _summary(**overrides: object) -> DemoSummary:
    base: dict[str, object] = {
        "model_versions": [
            {"version": 1, "trigger": "new_data", "promoted": True},
            {"version": 2, "trigger": "quality", "promoted": True},
        ],
        "drift_events": [{"model_version": 1}],
        "quality_events": 3,
        "champion_version": 2,
        "served_version": 2,
        "seconds": 1.0,
        "versions_served": {1: 3, 2: 4},
    }
    return DemoSummary(**(base | overrides))  # type: ignore[arg-type]


def test_loop_closed_verdict() -> None:
    assert _loop_closed(_summary()) == []
    assert "no drift event was detected" in _loop_closed(_summary(drift_events=[]))
    assert "the monitor measured no live quality window" in _loop_closed(_summary(quality_events=0))
    stale = _loop_closed(_summary(served_version=1))
    assert any("not the retrained version 2" in p for p in stale)
    # Under the rules policy the monitor's drift event starts the retrain instead.
    rules = [{"version": 1, "trigger": "new_data", "promoted": True}]
    rules.append({"version": 2, "trigger": "drift", "promoted": True})
    assert _loop_closed(_summary(model_versions=rules)) == []
    by_hand = [rules[0], {"version": 2, "trigger": "manual", "promoted": True}]
    assert any("monitor's signals" in p for p in _loop_closed(_summary(model_versions=by_hand)))
    assert any("failed" in p for p in _loop_closed(_summary(failed_requests=3)))
    assert any("restarted" in p for p in _loop_closed(_summary(serving_restarts=1)))


def test_flights_frame_has_the_spec_features() -> None:
    from continuum.contracts import parse_spec_yaml

    spec = parse_spec_yaml(
        (Path(__file__).parents[3] / "examples/pipelines/flights.yaml").read_text()
    )
    frame: pd.DataFrame = load_flights((2, 2), every=200)
    assert set(spec.record_schema.feature_names) <= set(frame.columns)


class _FakeRegistry:
    """The registry's read routes `pipelines models|runs` call, for a pipeline with no model."""

    RUN = {
        "run_id": "run-1",
        "pipeline": "flights",
        "status": "failed",
        "trigger": "new_data",
        "spec_version": 1,
        "failure_reason": "InvalidParameterError: max_iter must be in [0, inf) [INFO]",
        "received_at": "2026-01-01T00:00:00Z",
    }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/pipelines/flights/models":
            return httpx.Response(200, json=[])
        if path == "/v1/pipelines/flights/runs":
            assert request.url.params["limit"] == "5"
            return httpx.Response(200, json=[self.RUN])
        if path == "/v1/pipelines/flights":
            spec = parse_spec_yaml(
                (Path(__file__).parents[3] / "examples/pipelines/flights.yaml").read_text()
            )
            reason = self.RUN["failure_reason"]
            return httpx.Response(
                200,
                json={
                    "name": "flights",
                    "spec_version": 1,
                    "spec_sha256": spec.sha256(),
                    "spec": spec.model_dump(mode="json", by_alias=True),
                    "created_at": "2026-01-01T00:00:00Z",
                    "status": {
                        "has_model": False,
                        "last_run": self.RUN,
                        "summary": f"no model: last run failed because {reason}",
                    },
                },
            )
        return httpx.Response(404, json={"detail": "not found"})


@pytest.fixture
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def client(base_url: str, **kwargs: Any) -> RegistryClient:
        transport = httpx.MockTransport(_FakeRegistry().handle)
        return RegistryClient(base_url, transport=transport, **kwargs)

    # The commands import the client when they run (keeping `continuum --help` light).
    monkeypatch.setattr("continuum.registry_client.RegistryClient", client)


@pytest.mark.usefixtures("fake_registry")
def test_models_without_a_model_prints_why() -> None:
    result = CliRunner().invoke(app, ["pipelines", "models", "flights"])
    assert result.exit_code == 0, result.output
    assert "flights: no model: last run failed because InvalidParameterError" in result.output
    assert "[0, inf) [INFO]" in result.output


@pytest.mark.usefixtures("fake_registry")
def test_runs_lists_status_trigger_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    # Wide enough that the table does not wrap the reason (CliRunner's stdout is no tty).
    monkeypatch.setattr(pipelines_commands, "out", Console(width=250))
    result = CliRunner().invoke(app, ["pipelines", "runs", "flights", "--limit", "5"])
    assert result.exit_code == 0, result.output
    for text in ("run-1", "new_data", "failed", "InvalidParameterError", "[INFO]"):
        assert text in result.output
