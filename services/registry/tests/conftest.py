"""Fixtures: a throwaway PostgreSQL server, stores on SQLite and PostgreSQL, a real model.

The PostgreSQL server comes from Debian's ``postgresql`` package, started by the shared
helper in the repository's ``tests/throwaway_postgres.py`` (the compose test uses it too).
If its binaries are missing the fixture fails (it never skips).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlmodel import SQLModel

from continuum.contracts import (
    DataVersion,
    ModelArtifacts,
    ModelTrained,
    PipelineSpec,
    StoredObject,
    parse_spec_yaml,
)
from continuum.modelkit import (
    build_pipeline,
    build_reference_sample,
    dump_model,
    frame_to_parquet,
    labels,
    records_to_frame,
)
from continuum.registry.sql_store import SqlRegistryStore
from continuum.storage import MemoryObjectStore, ObjectStore

# The shared PostgreSQL helper lives in the repository's tests/ folder (importlib mode
# does not put it on sys.path).
_SHARED = str(Path(__file__).parents[3] / "tests")
if _SHARED not in sys.path:
    sys.path.insert(0, _SHARED)

from throwaway_postgres import throwaway_postgres  # noqa: E402

SPEC_YAML = """
name: churn
source_topic: churn.records
task: binary_classification
schema:
  features:
    - {name: tenure, type: numeric, min: 0}
    - {name: plan, type: categorical, values: [basic, pro]}
  target: {name: churned}
  event_time: ts
model:
  estimator: LogisticRegression
  params: {max_iter: 200}
promotion:
  metric: roc_auc
  min_improvement: 0.01
  floor: 0.6
"""


@pytest.fixture
def spec_yaml() -> str:
    """A valid spec, as a user would apply it."""
    return SPEC_YAML


@pytest.fixture
def spec() -> PipelineSpec:
    """The parsed test spec."""
    return parse_spec_yaml(SPEC_YAML)


# -- PostgreSQL ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for this test session, with an empty database ``registry``."""
    with throwaway_postgres() as server:
        server.create_database("registry")
        yield server.url("registry")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRegistryStore]:
    """An empty store on SQLite (a file) and on PostgreSQL: one suite, both backends."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    sql_store = SqlRegistryStore.from_url(url)
    SQLModel.metadata.drop_all(sql_store.engine)
    sql_store.setup()
    yield sql_store
    sql_store.close()


# -- model artifacts -------------------------------------------------------------------


def training_records(n: int = 120) -> list[dict[str, Any]]:
    """Rows where long tenure on the pro plan means staying."""
    rows = []
    for i in range(n):
        tenure = float(i % 40)
        plan = "pro" if i % 3 == 0 else "basic"
        rows.append(
            {"tenure": tenure, "plan": plan, "churned": int(tenure < 15 and plan == "basic")}
        )
    return rows


ArtifactFactory = Callable[[str], ModelArtifacts]


@pytest.fixture
def artifact_store() -> Iterator[ObjectStore]:
    """A fresh in-memory artifact store."""
    root = f"memory://registry-tests-{uuid4().hex}"
    yield MemoryObjectStore(root)
    MemoryObjectStore._shared.pop(root, None)


@pytest.fixture
def make_artifacts(spec: PipelineSpec, artifact_store: ObjectStore) -> ArtifactFactory:
    """Trains a real pipeline and stores model, reference sample and card under a run id."""
    records = training_records()
    frame = records_to_frame(spec, records)
    pipeline = build_pipeline(spec).fit(frame, labels(spec, records))
    model_bytes = dump_model(pipeline)
    sample = frame_to_parquet(build_reference_sample(spec, pipeline, frame))

    def make(run_id: str) -> ModelArtifacts:
        card = json.dumps({"pipeline": spec.name, "run_id": run_id}).encode()
        return ModelArtifacts(
            model=artifact_store.put(f"{run_id}/model.skops", model_bytes),
            reference_sample=artifact_store.put(f"{run_id}/reference.parquet", sample),
            model_card=artifact_store.put(f"{run_id}/model_card.json", card),
        )

    return make


TrainedFactory = Callable[..., ModelTrained]


def fake_artifacts(run_id: str) -> ModelArtifacts:
    """Artifact references for store tests (the store never reads the bytes)."""

    def obj(name: str) -> StoredObject:
        return StoredObject(uri=f"memory://fake/{run_id}/{name}", sha256="0" * 64, size_bytes=1)

    return ModelArtifacts(
        model=obj("model.skops"), reference_sample=obj("ref.parquet"), model_card=obj("card.json")
    )


@pytest.fixture
def trained() -> TrainedFactory:
    """Builds a succeeded ``ModelTrained`` for ``churn`` scored on roc_auc."""

    def make(
        run_id: str,
        roc_auc: float | None = 0.8,
        *,
        artifacts: ModelArtifacts | None = None,
        champion_version: int | None = None,
        champion_auc: float | None = None,
        status: str = "succeeded",
        pipeline: str = "churn",
    ) -> ModelTrained:
        return ModelTrained(
            pipeline=pipeline,
            run_id=run_id,
            trigger="new_data",
            status=status,  # type: ignore[arg-type]
            failure_reason="out of memory" if status == "failed" else None,
            spec_version=1,
            data_version=DataVersion.of(["b-1", "b-2"]),
            artifacts=None if status == "failed" else (artifacts or fake_artifacts(run_id)),
            metric="roc_auc",
            metrics={} if roc_auc is None else {"roc_auc": roc_auc, "accuracy": 0.7},
            champion_version=champion_version,
            champion_metrics={} if champion_auc is None else {"roc_auc": champion_auc},
            params={"max_iter": 200},
            training_seconds=1.5,
        )

    return make
