"""Fixtures: a throwaway PostgreSQL server, stores on SQLite and PostgreSQL, real models
of graded quality with a holdout, and the app in memory (``harness``).

The PostgreSQL server comes from Debian's ``postgresql`` package, started by the shared
helper in the repository's ``tests/throwaway_postgres.py`` (the compose test uses it too).
If its binaries are missing the fixture fails (it never skips).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
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
from continuum.registry.sql_store import SqlRegistryStore
from continuum.storage import MemoryObjectStore, ObjectStore

# The shared PostgreSQL helper lives in the repository's tests/ folder, the registry's
# test kit beside this file (importlib mode puts neither on sys.path).
for _folder in (str(Path(__file__).parents[3] / "tests"), str(Path(__file__).parent)):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)

from registry_testkit import (  # noqa: E402
    SPEC_YAML,
    ArtifactMaker,
    Harness,
    registry_settings,
    running,
)
from throwaway_postgres import throwaway_postgres  # noqa: E402


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


@pytest.fixture
def artifact_store() -> Iterator[ObjectStore]:
    """A fresh in-memory artifact store."""
    root = f"memory://registry-tests-{uuid4().hex}"
    yield MemoryObjectStore(root)
    MemoryObjectStore._shared.pop(root, None)


@pytest.fixture
def make_artifacts(spec: PipelineSpec, artifact_store: ObjectStore) -> ArtifactMaker:
    """Stores real models (``make_artifacts(run_id, quality)``) in the artifact store."""
    return ArtifactMaker(spec, artifact_store)


@pytest.fixture
async def harness(tmp_path: Path, artifact_store: ObjectStore) -> AsyncIterator[Harness]:
    """The registry app in memory, its artifacts in ``artifact_store``."""
    async with running(registry_settings(tmp_path, artifact_store)) as started:
        yield started


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
