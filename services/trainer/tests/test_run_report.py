"""A run's slice table (on the model card) and its HTML report (stored with the model)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from trainer_testkit import PIPELINE, make_rows, make_spec

from continuum.contracts import PipelineSpec
from continuum.modelkit import (
    ModelCard,
    feature_columns,
    frame_to_parquet,
    load_champion,
    parquet_to_frame,
    score,
    target_values,
)
from continuum.storage import get_verified, open_store
from continuum.trainer.jobs import ChampionRef, JobBatch, TrainingJob, TrainingResult, TriggerRef
from continuum.trainer.worker import train_run


def _spec() -> PipelineSpec:
    data: dict[str, Any] = make_spec().model_dump(by_alias=True)
    data["evaluation"] = {"slice_min_rows": 40, "slice_bins": 3, "slice_flag_threshold": 0.05}
    return PipelineSpec.model_validate(data)


class Runs:
    """Trains jobs on growing data in memory stores, as the service's worker would."""

    def __init__(self, spec: PipelineSpec) -> None:
        tag = uuid.uuid4().hex[:8]
        self.spec = spec
        self.data, self.artifacts = open_store(f"memory://d-{tag}"), open_store(f"memory://a-{tag}")
        self.batches: list[JobBatch] = []

    def add(self, rows: int) -> None:
        offset = len(self.batches) * 10_000  # later batches, later event times
        stored = self.data.put(
            f"b{len(self.batches)}.parquet", frame_to_parquet(make_rows(rows, offset=offset))
        )
        self.batches.append(
            JobBatch(
                batch_id=f"b{len(self.batches)}",
                uri=stored.uri,
                sha256=stored.sha256,
                size_bytes=stored.size_bytes,
            )
        )

    def train(self, champion: ChampionRef | None = None, **extra: Any) -> TrainingResult:
        job = TrainingJob(
            pipeline=PIPELINE,
            run_id=uuid.uuid4().hex,
            spec=self.spec,
            spec_version=1,
            data_root=self.data.root_uri,
            artifact_root=self.artifacts.root_uri,
            batches=tuple(self.batches),
            champion=champion,
            triggers=(TriggerRef(str(uuid.uuid4()), "manual", str(uuid.uuid4())),),
            reference_max_rows=500,
            threads=1,
            **extra,
        )
        return train_run(job)


def test_slices_compare_candidate_and_champion_and_the_report_is_stored() -> None:
    runs = Runs(_spec())
    runs.add(600)
    first = runs.train()
    champion = ChampionRef(version=1, artifacts=first.artifacts, spec=runs.spec)
    runs.add(600)
    second = runs.train(champion=champion, report_max_rows=300)

    card = ModelCard.model_validate_json(get_verified(runs.artifacts, second.artifacts.model_card))
    assert card.slices is not None
    slices = {s.name: s for s in card.slices.slices}
    assert {"origin=EWR", "origin=JFK", "origin=LGA"} <= set(slices)
    assert len([n for n in slices if n.startswith("dep_hour=")]) == 3
    assert all(s.rows >= 40 for s in slices.values())
    assert sum(slices[f"origin={o}"].rows for o in ("EWR", "JFK", "LGA")) == card.rows_holdout
    # Each slice's figures are what scoring the slice's holdout rows gives, for both models.
    assert second.artifacts.holdout is not None
    holdout = parquet_to_frame(get_verified(runs.artifacts, second.artifacts.holdout))
    jfk = holdout[holdout["origin"] == "JFK"]
    spec = runs.spec
    y = target_values(spec, jfk)
    mine = load_champion(runs.artifacts, second.artifacts, spec, 2).pipeline
    theirs = load_champion(runs.artifacts, first.artifacts, spec, 1).pipeline
    for model, got in ((mine, "metrics"), (theirs, "champion_metrics")):
        expected = score(model, feature_columns(spec, jfk), y, spec.task)
        assert getattr(slices["origin=JFK"], got) == pytest.approx(expected)
    assert card.champion_metrics == pytest.approx(
        score(theirs, feature_columns(spec, holdout), target_values(spec, holdout), spec.task)
    )

    assert second.artifacts.report is not None
    page = get_verified(runs.artifacts, second.artifacts.report).decode()
    assert second.artifacts.report.uri.endswith(f"models/{PIPELINE}/{card.run_id}/report.html")
    assert "<td>origin=JFK</td>" in page and "Model report" in page
    assert 'id="root_metric_' in page  # Evidently's presets follow our header
    assert "300 holdout rows (current) with 300 training rows" in page
    assert card.durations_seconds["report_seconds"] > 0


def test_no_report_when_its_rows_are_zero() -> None:
    runs = Runs(_spec())
    runs.add(400)
    result = runs.train(report_max_rows=0)
    assert result.artifacts.report is None
    assert result.card.slices is not None  # slices do not depend on the report


def test_the_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    """Evidently's part is drawn by its script: the browser's DOM must hold its tables and
    charts, not only the HTML as stored. Chromium comes from scripts/setup.sh."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run scripts/setup.sh"
    runs = Runs(_spec())
    runs.add(600)
    result = runs.train(report_max_rows=300)
    assert result.artifacts.report is not None
    page = tmp_path / "report.html"
    page.write_bytes(get_verified(runs.artifacts, result.artifacts.report))
    stored = page.read_text()

    def browse(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # root in CI containers
                "--disable-gpu",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",  # let the page's script finish drawing
                *args,
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    dom = browse("--dump-dom").stdout
    assert "<td>origin=JFK</td>" in dom
    assert dom.count("<table") > stored.count("<table") + 3  # Evidently's tables, drawn
    assert dom.count("<svg") > stored.count("<svg") + 10  # and its charts
    shot = tmp_path / "report.png"
    browse("--window-size=1280,1600", "--hide-scrollbars", f"--screenshot={shot}")
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000  # a drawn page, not a blank one
