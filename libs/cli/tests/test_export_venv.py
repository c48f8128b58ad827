"""A bundle installed into a fresh virtualenv scores files exactly as serving does."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pandas as pd
import pytest
from export_testkit import make_records, serving_frame, trained

from continuum.storage import MemoryObjectStore

pytestmark = pytest.mark.integration


def uv() -> str:
    found = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    assert Path(found).is_file(), "uv is needed to build the bundle's virtualenv"
    return found


def install(venv: Path, requirements: Path) -> None:
    """A fresh virtualenv with only the bundle's requirements: from uv's cache when it
    holds them (no network), else from PyPI."""
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    subprocess.run([uv(), "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    command = [uv(), "pip", "install", "-q", "-r", str(requirements)]
    offline = subprocess.run([*command, "--offline"], env=env, capture_output=True, text=True)
    if offline.returncode != 0:
        subprocess.run(command, env=env, check=True, timeout=300)


def test_a_fresh_virtualenv_scores_a_csv_as_serving_does_and_passes_its_check(
    tmp_path: Path,
) -> None:
    world = trained(MemoryObjectStore(f"memory://export-{uuid4().hex}"))
    bundle = asyncio.run(world.export(tmp_path / "bundle"))
    venv = tmp_path / "venv"
    install(venv, bundle / "requirements.txt")
    python = str(venv / "bin" / "python")
    # The bundle runs without Continuum: the virtualenv cannot import it.
    probe = subprocess.run([python, "-c", "import continuum"], capture_output=True)
    assert probe.returncode != 0

    records = make_records(300, seed=123)
    expected = serving_frame(world.serving_model(), records)
    pd.DataFrame(records).to_csv(tmp_path / "rows.csv", index=False)
    script = str(bundle / "predict.py")
    # Each run imports scikit-learn & co. afresh (seconds on a busy host): two runs only.
    # Parquet input and a damaged bundle are covered in process by test_export.py.
    subprocess.run(
        [
            python,
            script,
            str(tmp_path / "rows.csv"),
            str(tmp_path / "out.csv"),
            "--keep",
            "flight_id",
        ],
        check=True,
        cwd=tmp_path,
        timeout=120,
    )
    scored = pd.read_csv(tmp_path / "out.csv", float_precision="round_trip")
    assert scored["flight_id"].tolist() == [r["flight_id"] for r in records]
    pd.testing.assert_frame_equal(scored.drop(columns="flight_id"), expected, check_exact=True)

    checked = subprocess.run([python, script, "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "flights v2: checksums ok, " in checked.stdout
