"""``continuum export``: what a bundle holds, that it scores as serving does, and ``--check``."""

from __future__ import annotations

import asyncio
import json
import operator
from pathlib import Path
from typing import Any
from uuid import uuid4

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from export_testkit import Trained, make_records, serving_frame, trained
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from typer.testing import CliRunner

import continuum.registry_client
from continuum.cli.bundle import predict as bundle_predict
from continuum.cli.bundle.export import ExportError
from continuum.cli.main import app
from continuum.contracts import parse_spec_yaml
from continuum.modelkit import ALLOWLIST, coerce_features, package_versions
from continuum.storage import FileObjectStore, MemoryObjectStore, sha256_hex

BUNDLE_FILES = {
    "model.skops", "spec.yaml", "model_card.json", "reference_sample.parquet",
    "reference_predictions.parquet", "requirements.txt", "bundle.json", "predict.py",
    "manifest.json",
}  # fmt: skip


@pytest.fixture
def world() -> Trained:
    return trained(MemoryObjectStore(f"memory://export-{uuid4().hex}"))


def export(world: Trained, out: Path, version: int | None = None) -> Path:
    return asyncio.run(world.export(out, version))


def rewrite(bundle: Path, name: str, data: bytes) -> None:
    """Replace a file and record its new sha256, as someone re-packing a bundle would."""
    (bundle / name).write_bytes(data)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][name] = sha256_hex(data)
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def check(bundle: Path) -> Any:
    return CliRunner().invoke(app, ["export", "--check", str(bundle)])


def test_the_bundle_holds_the_champion_its_spec_and_pinned_requirements(
    world: Trained, tmp_path: Path
) -> None:
    bundle = export(world, tmp_path / "bundle")
    assert {p.name for p in bundle.iterdir()} == BUNDLE_FILES
    champion = world.registry.models[("flights", 2)].artifacts
    assert (bundle / "model.skops").read_bytes() == world.store.get(champion.model.uri)
    manifest = json.loads((bundle / "manifest.json").read_text())["files"]
    assert set(manifest) == BUNDLE_FILES - {"manifest.json"}
    assert all(sha256_hex((bundle / n).read_bytes()) == h for n, h in manifest.items())
    info = json.loads((bundle / "bundle.json").read_text())
    assert (info["pipeline"], info["version"], info["model_sha256"]) == (
        "flights", 2, champion.model.sha256,
    )  # fmt: skip
    assert tuple(info["allowlist"]) == ALLOWLIST  # the loader serving uses, same types
    assert parse_spec_yaml((bundle / "spec.yaml").read_text()) == world.spec
    pins = [line for line in (bundle / "requirements.txt").read_text().splitlines() if "==" in line]
    trained_with = package_versions()  # the card recorded the versions that trained it
    assert pins == [
        f"{name}=={trained_with[name]}"
        for name in ("numpy", "pandas", "pyarrow", "scikit-learn", "scipy", "skops")
    ]
    assert (bundle / "predict.py").read_bytes() == Path(bundle_predict.__file__).read_bytes()


def test_requirements_pin_the_cards_versions_not_this_environments(
    world: Trained, tmp_path: Path
) -> None:
    from continuum.cli.bundle.export import requirements

    text, fallbacks = requirements(
        {"package_versions": {"scikit-learn": "1.6.0", "numpy": "unknown"}}
    )
    assert "scikit-learn==1.6.0" in text.splitlines()
    assert f"numpy=={package_versions()['numpy']}" in text.splitlines()
    assert "numpy" in fallbacks and "scikit-learn" not in fallbacks


def test_version_option_and_unknown_versions(world: Trained, tmp_path: Path) -> None:
    bundle = export(world, tmp_path / "v1", version=1)
    assert json.loads((bundle / "bundle.json").read_text())["version"] == 1
    with pytest.raises(ExportError, match="no model version 7"):
        export(world, tmp_path / "v7", version=7)
    del world.registry.champions["flights"]
    with pytest.raises(ExportError, match="has no champion"):
        export(world, tmp_path / "champion")
    with pytest.raises(ExportError, match="already exists"):
        export(world, bundle, version=1)
    assert not (tmp_path / "v7").exists() and not (tmp_path / "champion").exists()


@pytest.mark.parametrize(
    "estimator", ["HistGradientBoostingClassifier", "LogisticRegression", "RandomForestRegressor"]
)
def test_the_bundle_scores_a_csv_as_serving_does(estimator: str, tmp_path: Path) -> None:
    world = trained(MemoryObjectStore(f"memory://export-{uuid4().hex}"), estimator)
    bundle = export(world, tmp_path / "bundle")
    records = make_records(200, seed=99)
    source = tmp_path / "rows.csv"
    pd.DataFrame(records).to_csv(source, index=False)
    loaded = bundle_predict.load_bundle(bundle)
    got = bundle_predict.score(loaded, bundle_predict.read_input(source, loaded.features))
    pd.testing.assert_frame_equal(
        got, serving_frame(world.serving_model(), records), check_exact=True
    )


def test_features_are_typed_as_modelkit_types_them(world: Trained) -> None:
    frame = pd.DataFrame(
        {
            "dep_delay": ["1.5", None, "x", 7],
            "origin": [True, 1, np.nan, "JFK"],
            "carrier": [None, "UA", "NA", 3.0],
        }
    )  # distance is absent: missing everywhere
    features = [{"name": f.name, "type": f.type} for f in world.spec.record_schema.features]
    pd.testing.assert_frame_equal(
        bundle_predict.coerce_features(features, frame),
        coerce_features(world.spec, frame),
        check_exact=True,
    )


def test_check_passes_then_names_the_file_whose_byte_changed(
    world: Trained, tmp_path: Path
) -> None:
    bundle = export(world, tmp_path / "bundle")
    result = check(bundle)
    assert result.exit_code == 0, result.output
    assert "flights v2: checksums ok" in result.output
    model = bytearray((bundle / "model.skops").read_bytes())
    model[len(model) // 2] ^= 0x01
    (bundle / "model.skops").write_bytes(bytes(model))
    result = check(bundle)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {bundle}/model.skops: sha256 is ")


def test_check_scores_the_reference_sample(world: Trained, tmp_path: Path) -> None:
    bundle = export(world, tmp_path / "bundle")
    # Another model, re-packed with consistent checksums: only scoring can notice.
    other = world.registry.models[("flights", 1)].artifacts.model
    rewrite(bundle, "model.skops", world.store.get(other.uri))
    info = json.loads((bundle / "bundle.json").read_text())
    rewrite(bundle, "bundle.json", json.dumps({**info, "model_sha256": other.sha256}).encode())
    result = check(bundle)
    assert result.exit_code == 1
    assert "reference_predictions.parquet: " in result.output
    assert "rows differ in proba_" in result.output or "in prediction" in result.output


def test_the_bundle_refuses_types_outside_the_allowlist(world: Trained, tmp_path: Path) -> None:
    bundle = export(world, tmp_path / "bundle")
    hostile = sio.dumps(
        Pipeline([("f", FunctionTransformer(operator.neg)), ("m", LogisticRegression())])
    )
    rewrite(bundle, "model.skops", hostile)
    info = json.loads((bundle / "bundle.json").read_text())
    rewrite(
        bundle, "bundle.json", json.dumps({**info, "model_sha256": sha256_hex(hostile)}).encode()
    )
    with pytest.raises(
        bundle_predict.BundleError, match=r"model.skops: untrusted types _operator.neg"
    ):
        bundle_predict.load_bundle(bundle)


def test_the_command_exports_from_the_registry_and_the_artifact_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = trained(FileObjectStore((tmp_path / "artifacts").as_uri()))
    monkeypatch.setattr(
        continuum.registry_client, "RegistryClient", lambda url: world.registry.client(url)
    )
    runner = CliRunner()
    args = ["export", "flights", str(tmp_path / "out"), "--home", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "flights v2 -> " in result.output
    assert check(tmp_path / "out").exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already exists" in again.output
    usage = runner.invoke(app, ["export", "--check", str(tmp_path / "out"), "--version", "1"])
    assert usage.exit_code == 1 and "--check takes only the bundle folder" in usage.output


def test_the_script_scores_parquet_keeps_columns_and_refuses_a_damaged_bundle(
    world: Trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = export(world, tmp_path / "bundle")
    records = make_records(50, seed=5)
    pd.DataFrame(records).to_parquet(tmp_path / "rows.parquet", index=False)
    args = [str(tmp_path / "rows.parquet"), str(tmp_path / "out.parquet"), "--keep", "flight_id"]
    assert bundle_predict.main(args, root=bundle) == 0
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert scored["flight_id"].tolist() == [r["flight_id"] for r in records]
    expected = serving_frame(world.serving_model(), records)
    pd.testing.assert_frame_equal(scored.drop(columns="flight_id"), expected, check_exact=True)
    assert bundle_predict.main([*args[:2], "--keep", "nope"], root=bundle) == 1
    assert "no column(s) ['nope'] to keep" in capsys.readouterr().err

    (bundle / "model.skops").write_bytes((bundle / "model.skops").read_bytes() + b"\0")
    (tmp_path / "out.parquet").unlink()
    assert bundle_predict.main(args, root=bundle) == 1
    assert capsys.readouterr().err.startswith("error: model.skops: sha256 is ")
    assert not (tmp_path / "out.parquet").exists()
