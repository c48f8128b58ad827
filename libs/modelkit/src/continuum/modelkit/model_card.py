"""The model card stored beside every model: what it is, how good, made from what, by what."""

from __future__ import annotations

import importlib.metadata
import subprocess
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from continuum.contracts import DataVersion, Task, utc_now
from continuum.modelkit.slices import SliceEvaluation

PACKAGES = ("scikit-learn", "skops", "numpy", "pandas", "pyarrow", "scipy", "continuum-modelkit")


@cache
def package_versions() -> dict[str, str]:
    """Installed versions of the packages a model depends on."""
    out: dict[str, str] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


@cache
def code_version() -> str:
    """The git commit of the code if it runs from a checkout, else the package version."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        result = None
    if result is not None and result.returncode == 0 and result.stdout.strip():
        return f"git:{result.stdout.strip()}"
    return f"continuum-modelkit=={package_versions()['continuum-modelkit']}"


# Aliases: the card has fields of the same names, which would shadow them in the class body.
_package_versions = package_versions
_code_version = code_version


class ModelCard(BaseModel):
    """``model_card.json``: metrics, lineage, parameters and the software that made it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    pipeline: str
    run_id: str
    spec_version: int
    task: Task
    estimator: str
    triggers: list[str] = Field(default_factory=list)
    metric: str
    metrics: dict[str, float]
    champion_version: int | None = None
    champion_metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, JsonValue] = Field(default_factory=dict)
    search: dict[str, JsonValue] = Field(default_factory=dict)
    data_version: DataVersion
    skipped_batches: dict[str, str] = Field(
        default_factory=dict, description="Batches left out (unreadable, tampered) and why."
    )
    rows_train: int
    rows_holdout: int
    holdout_positives: int | None = Field(
        default=None, description="Binary classification: holdout rows of the positive class."
    )
    holdout_negatives: int | None = Field(
        default=None, description="Binary classification: holdout rows of the other class."
    )
    train_time_range: tuple[datetime, datetime] | None = None
    holdout_time_range: tuple[datetime, datetime] | None = None
    durations_seconds: dict[str, float] = Field(default_factory=dict)
    slices: SliceEvaluation | None = Field(
        default=None, description="Candidate and champion per slice of the holdout, flags."
    )
    package_versions: dict[str, str] = Field(default_factory=_package_versions)
    code_version: str = Field(default_factory=_code_version)
    created_at: datetime = Field(default_factory=utc_now)

    def to_json_bytes(self) -> bytes:
        """The card as indented JSON (what the artifact store keeps)."""
        return self.model_dump_json(indent=2).encode()


def card_json(card: ModelCard) -> dict[str, Any]:
    """The card as a JSON-able dict."""
    return card.model_dump(mode="json")
