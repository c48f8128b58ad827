"""Fetch a model version from the registry and the artifact store, write it as a bundle.

The bundle is a folder: the skops model, ``spec.yaml``, the model card, the reference
sample and the predictions serving's code gives for it, ``predict.py`` (a copy of
:mod:`continuum.cli.bundle.predict`), ``requirements.txt`` pinned to the training
environment, ``bundle.json`` (what ``predict.py`` needs to know) and ``manifest.json``
(the sha256 of every other file).
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from continuum.cli.bundle import predict as bundle_predict
from continuum.contracts import PipelineSpec
from continuum.modelkit import (
    ALLOWLIST,
    LoadedModel,
    input_kinds,
    load_model,
    parquet_to_frame,
)
from continuum.modelkit.model_card import PACKAGES, package_versions
from continuum.registry_client import ModelVersionRecord, RegistryClient
from continuum.storage import ObjectStore, get_verified, sha256_hex

MODEL_FILE = "model.skops"
SPEC_FILE = "spec.yaml"
CARD_FILE = "model_card.json"
REFERENCE_FILE = "reference_sample.parquet"
REFERENCE_PREDICTIONS_FILE = "reference_predictions.parquet"
REQUIREMENTS_FILE = "requirements.txt"
INFO_FILE = "bundle.json"
PREDICT_FILE = "predict.py"
BUNDLE_PACKAGES = tuple(p for p in PACKAGES if not p.startswith("continuum"))
"""What ``predict.py`` imports (directly, or scikit-learn's scipy) and so gets pinned."""


class ExportError(Exception):
    """The version cannot be exported; the message says why in one line."""


@dataclass(frozen=True)
class Exported:
    """A version's verified artifacts, spec and registry record."""

    record: ModelVersionRecord
    spec: PipelineSpec
    model: bytes
    card: bytes
    reference: bytes


async def fetch(
    client: RegistryClient, store: ObjectStore, pipeline: str, version: int | None
) -> Exported:
    """The version (the champion if ``version`` is None) with every artifact sha256-checked."""
    if version is None:
        record = await client.get_champion(pipeline)
        if record is None:
            raise ExportError(f"{pipeline} has no champion; name a version with --version")
    else:
        record = await client.get_model(pipeline, version)
        if record is None:
            raise ExportError(f"{pipeline} has no model version {version}")
    spec_record = await client.get_spec_version(pipeline, record.spec_version)
    if spec_record is None:
        raise ExportError(f"{pipeline} has no spec version {record.spec_version}")
    artifacts = record.artifacts
    return Exported(
        record=record,
        spec=spec_record.spec,
        model=get_verified(store, artifacts.model),
        card=get_verified(store, artifacts.model_card),
        reference=get_verified(store, artifacts.reference_sample),
    )


def requirements(card: dict[str, Any]) -> tuple[str, list[str]]:
    """``requirements.txt`` pinned to the card's package versions, and the packages it
    could not pin from the card (pinned to this environment's versions instead)."""
    trained = card.get("package_versions") or {}
    here = package_versions()
    lines, fallbacks = [], []
    for name in sorted(BUNDLE_PACKAGES):
        pinned = trained.get(name)
        if not pinned or pinned == "unknown":
            pinned = here.get(name, "unknown")
            fallbacks.append(name)
        lines.append(f"{name}=={pinned}" if pinned != "unknown" else name)
    header = (
        "# The versions of the training environment (its model card's package_versions),\n"
        "# so the model loads and predicts as it did when it was trained.\n"
    )
    if fallbacks:
        header += (
            f"# Not in the card, pinned to the exporting environment: {', '.join(fallbacks)}\n"
        )
    return header + "\n".join(lines) + "\n", fallbacks


def reference_predictions(loaded: LoadedModel, sample: pd.DataFrame) -> pd.DataFrame:
    """What serving's code (``LoadedModel.predict``) answers for the reference sample, in
    ``predict.py``'s output columns."""
    predictions = loaded.predict(sample)
    out = pd.DataFrame({bundle_predict.PREDICTION_COLUMN: predictions.labels})
    if predictions.probabilities is not None:
        names = list(predictions.probabilities[0]) if predictions.probabilities else []
        for name in names:
            out[f"{bundle_predict.PROBABILITY_PREFIX}{name}"] = [
                row[name] for row in predictions.probabilities
            ]
    return out


def _spec_yaml(spec: PipelineSpec) -> str:
    # Aliases (``schema``) so `continuum pipelines apply spec.yaml` takes the file back.
    return yaml.safe_dump(spec.model_dump(mode="json", by_alias=True), sort_keys=False)


def _bundle_files(exported: Exported) -> tuple[dict[str, bytes], list[str]]:
    record, spec = exported.record, exported.spec
    # The same loader as serving: sha256, the allowlist, then skops.
    pipeline = load_model(exported.model, expected_sha256=record.artifacts.model.sha256)
    loaded = LoadedModel(pipeline=pipeline, spec=spec, version=record.version)
    sample = parquet_to_frame(exported.reference)
    expected = reference_predictions(loaded, sample)
    card = json.loads(exported.card)
    reqs, fallbacks = requirements(card)
    info = {
        "pipeline": record.pipeline,
        "version": record.version,
        "spec_version": record.spec_version,
        "spec_sha256": spec.sha256(),
        "task": spec.task,
        # The model's inputs: schema features, then any view features (an input file for
        # the bundle carries those as columns: a bundle has no online store).
        "features": [{"name": n, "type": k} for n, k in input_kinds(spec).items()],
        "model_file": MODEL_FILE,
        "model_sha256": record.artifacts.model.sha256,
        "reference_sample_file": REFERENCE_FILE,
        "reference_predictions_file": REFERENCE_PREDICTIONS_FILE,
        "allowlist": list(ALLOWLIST),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exported_with_python": platform.python_version(),
    }
    buffer = expected.to_parquet(index=False)
    assert buffer is not None  # to_parquet returns the bytes when given no path
    files = {
        MODEL_FILE: exported.model,
        SPEC_FILE: _spec_yaml(spec).encode(),
        CARD_FILE: exported.card,
        REFERENCE_FILE: exported.reference,
        REFERENCE_PREDICTIONS_FILE: buffer,
        REQUIREMENTS_FILE: reqs.encode(),
        INFO_FILE: json.dumps(info, indent=2).encode(),
        PREDICT_FILE: Path(bundle_predict.__file__).read_bytes(),
    }
    return files, fallbacks


def write_bundle(exported: Exported, out: Path) -> list[str]:
    """Write the bundle to ``out`` (which must not exist), all at once: it is built in a
    sibling folder and renamed. Returns the packages pinned from this environment."""
    if out.exists():
        raise ExportError(f"{out} already exists; choose a new folder")
    files, fallbacks = _bundle_files(exported)
    manifest = {
        "format": 1,
        "files": {name: sha256_hex(data) for name, data in sorted(files.items())},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        (staging / bundle_predict.MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        staging.chmod(0o755)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return fallbacks
