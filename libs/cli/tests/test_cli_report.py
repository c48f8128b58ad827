"""``continuum pipelines report NAME VERSION``: the registry's HTML report, saved or opened."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from continuum.cli.main import app
from continuum.registry_client import RegistryClient

PAGE = b"<html><body>Model report</body></html>"


def _handle(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/pipelines/flights/models/2/report":
        return httpx.Response(200, content=PAGE, headers={"content-type": "text/html"})
    return httpx.Response(404, json={"detail": "flights v3 has no report"})


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    def client(base_url: str, **kwargs: Any) -> RegistryClient:
        return RegistryClient(base_url, transport=httpx.MockTransport(_handle), **kwargs)

    monkeypatch.setattr("continuum.registry_client.RegistryClient", client)


def test_report_saved_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["pipelines", "report", "flights", "2", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == PAGE
    assert "report saved to" in result.output


def test_report_link_and_open(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["pipelines", "report", "flights", "2"])
    assert result.exit_code == 0, result.output
    assert "/v1/pipelines/flights/models/2/report" in result.output
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    result = CliRunner().invoke(app, ["pipelines", "report", "flights", "2", "--open"])
    assert result.exit_code == 0, result.output
    assert len(opened) == 1 and opened[0].startswith("file://")
    assert Path(opened[0].removeprefix("file://")).read_bytes() == PAGE


def test_a_version_without_a_report_is_a_clean_error() -> None:
    result = CliRunner().invoke(app, ["pipelines", "report", "flights", "3"])
    assert result.exit_code == 1
    assert "has no report" in result.output
