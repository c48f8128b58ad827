"""Following the registry: retry while it is down, fetch announced versions, retire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from ingest_testkit import Harness, make_spec

from continuum.contracts import PipelineChanged
from continuum.ingest.spec_sync import SpecSync
from continuum.registry_client import PipelineSpecRecord
from continuum.registry_client.testing import FakeRegistry

SHA = "0" * 64


def flights_registry(unreachable_calls: int = 0) -> FakeRegistry:
    """The registry with the flights pipeline at v1."""
    registry = FakeRegistry(unreachable_calls=unreachable_calls)
    registry.apply(make_spec())
    return registry


def changed(version: int, change: str = "applied") -> PipelineChanged:
    return PipelineChanged(
        pipeline="flights",
        spec_version=version,
        spec_sha256=SHA,
        change=change,  # type: ignore[arg-type]
        source_topic="flights.raw",
    )


async def test_sync_all_fails_while_unreachable_then_installs(
    harness_factory: Callable[[], Harness],
) -> None:
    h = harness_factory()
    registry = flights_registry(unreachable_calls=1)
    sync = SpecSync(registry.client(), h.engine)
    with pytest.raises(ConnectionError):
        await sync.sync_all()
    await sync.sync_all()
    entry = h.engine.catalog.entries["flights"]
    assert entry.ready
    assert entry.spec_version == 1
    assert h.engine.catalog.topics() == frozenset({"flights.raw"})


async def test_run_retries_until_the_registry_answers(
    harness_factory: Callable[[], Harness],
) -> None:
    h = harness_factory()
    registry = flights_registry(unreachable_calls=3)
    sync = SpecSync(registry.client(), h.engine, backoff_seconds=0.001)
    installed = asyncio.Event()
    install = h.engine.install

    async def install_and_signal(record: PipelineSpecRecord) -> None:
        await install(record)
        installed.set()

    h.engine.install = install_and_signal  # type: ignore[method-assign]
    task = asyncio.create_task(sync.run())
    try:
        await installed.wait()
    finally:
        task.cancel()
    assert not h.engine.catalog.not_ready()
    assert registry.calls.count("/v1/pipelines") >= 4


async def test_changed_event_fetches_the_new_version(
    harness_factory: Callable[[], Harness],
) -> None:
    h = harness_factory()
    registry = flights_registry()
    sync = SpecSync(registry.client(), h.engine, backoff_seconds=0.001)
    await sync.sync_all()
    assert registry.apply(make_spec(description="v2")) == 2
    await sync.on_changed(changed(2))
    assert h.engine.catalog.not_ready() == ["flights"]  # records wait until it is fetched
    await sync.fetch_missing()
    assert h.engine.catalog.entries["flights"].spec_version == 2
    await sync.on_changed(changed(1))  # an old event replayed: nothing changes
    assert h.engine.catalog.not_ready() == []


async def test_announced_pipeline_without_spec_stays_waiting(
    harness_factory: Callable[[], Harness],
) -> None:
    h = harness_factory()
    registry = flights_registry()
    sync = SpecSync(registry.client(), h.engine)
    await sync.on_changed(
        PipelineChanged(pipeline="other", spec_version=1, spec_sha256=SHA, source_topic="other.raw")
    )
    await sync.fetch_missing()
    assert h.engine.catalog.not_ready() == ["other"]
    assert "other.raw" in h.engine.catalog.topics()


async def test_retired_pipeline_is_dropped(harness_factory: Callable[[], Harness]) -> None:
    h = harness_factory()
    sync = SpecSync(flights_registry().client(), h.engine)
    await sync.sync_all()
    await sync.on_changed(changed(2, change="retired"))
    assert h.engine.catalog.entries == {}
