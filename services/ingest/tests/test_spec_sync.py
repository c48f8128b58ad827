"""Following the registry: retry while it is down, fetch announced versions, retire."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from ingest_testkit import Harness, make_record, make_spec

from continuum.contracts import PipelineChanged
from continuum.ingest.spec_sync import SpecSync
from continuum.registry_client import PipelineSpecRecord, PipelineSummary, RegistryClient

SHA = "0" * 64


class FakeRegistry:
    """Serves the registry routes ingest calls; unreachable for the first ``down`` calls."""

    def __init__(self, down: int = 0) -> None:
        self.down = down
        self.records = {"flights": make_record()}
        self.calls: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.path)
        if self.down > 0:
            self.down -= 1
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/v1/pipelines":
            summaries = [
                PipelineSummary(
                    name=r.name,
                    spec_version=r.spec_version,
                    source_topic=r.spec.source_topic,
                    task=r.spec.task,
                ).model_dump(mode="json")
                for r in self.records.values()
            ]
            return httpx.Response(200, json=summaries)
        name = request.url.path.rsplit("/", 1)[-1]
        if name not in self.records:
            return httpx.Response(404, json={"detail": "no such pipeline"})
        return httpx.Response(200, content=self.records[name].model_dump_json(by_alias=True))

    def client(self) -> RegistryClient:
        return RegistryClient("http://registry", transport=httpx.MockTransport(self.handler))


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
    registry = FakeRegistry(down=1)
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
    registry = FakeRegistry(down=3)
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
    registry = FakeRegistry()
    sync = SpecSync(registry.client(), h.engine, backoff_seconds=0.001)
    await sync.sync_all()
    registry.records["flights"] = make_record(make_spec(description="v2"), version=2)
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
    registry = FakeRegistry()
    sync = SpecSync(registry.client(), h.engine)
    await sync.on_changed(
        PipelineChanged(pipeline="other", spec_version=1, spec_sha256=SHA, source_topic="other.raw")
    )
    await sync.fetch_missing()
    assert h.engine.catalog.not_ready() == ["other"]
    assert "other.raw" in h.engine.catalog.topics()


async def test_retired_pipeline_is_dropped(harness_factory: Callable[[], Harness]) -> None:
    h = harness_factory()
    sync = SpecSync(FakeRegistry().client(), h.engine)
    await sync.sync_all()
    await sync.on_changed(changed(2, change="retired"))
    assert h.engine.catalog.entries == {}
