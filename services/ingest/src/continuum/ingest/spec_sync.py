"""Keeps the engine's pipelines in step with the registry.

At start it lists every pipeline (retrying while the registry is unreachable), then
fetches each spec. ``continuum.pipelines.changed`` events wake it to fetch a new
version (or retire a pipeline); a periodic full re-read catches up with any event it
missed (another replica in the group may have consumed it). A pipeline whose spec cannot
be fetched stays "not ready" and its records wait: nothing is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from continuum.contracts import PipelineChanged
from continuum.ingest.engine import IngestEngine
from continuum.registry_client import PipelineSpecRecord, PipelineSummary, RegistryError
from continuum.runtime import Backoff

logger = logging.getLogger(__name__)


class SpecSource(Protocol):
    """The part of ``RegistryClient`` ingest uses."""

    async def list_pipelines(self) -> list[PipelineSummary]: ...

    async def get_spec(self, pipeline: str) -> PipelineSpecRecord | None: ...


class SpecSync:
    """Fetches specs into the engine; :meth:`run` is a background task."""

    def __init__(
        self,
        registry: SpecSource,
        engine: IngestEngine,
        *,
        refresh_seconds: float = 30.0,
        backoff_seconds: float = 0.5,
    ) -> None:
        self.registry = registry
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.backoff = Backoff(backoff_seconds)
        self.synced_once = False
        self.last_error: str | None = None
        self._wake = asyncio.Event()

    async def sync_all(self) -> None:
        """Learn every pipeline the registry lists, then fetch the specs not in hand."""
        for summary in await self.registry.list_pipelines():
            await self.engine.announce(summary.name, summary.source_topic, summary.spec_version)
        await self.fetch_missing()
        self.synced_once = True

    async def fetch_missing(self) -> None:
        """Fetch the spec of every pipeline that is not ready."""
        for name in self.engine.catalog.not_ready():
            record = await self.registry.get_spec(name)
            if record is None:
                logger.warning("pipeline %s is announced but the registry has no spec", name)
                continue
            await self.engine.install(record)

    async def on_changed(self, event: PipelineChanged) -> None:
        """Handle a ``PipelineChanged`` event (idempotent: compares versions)."""
        if event.change == "retired":
            await self.engine.retire(event.pipeline)
            return
        await self.engine.announce(event.pipeline, event.source_topic, event.spec_version)
        self._wake.set()

    async def run(self) -> None:
        """Sync, then fetch on wake-ups and re-sync periodically; retries with backoff."""
        failures = 0
        loop = asyncio.get_running_loop()
        next_full = loop.time()
        while True:
            self._wake.clear()  # before the attempt, so a change announced meanwhile re-wakes
            try:
                if loop.time() >= next_full or not self.synced_once:
                    await self.sync_all()
                    next_full = loop.time() + self.refresh_seconds
                else:
                    await self.fetch_missing()
                self.last_error = None
            except (ConnectionError, TimeoutError, RegistryError) as exc:
                self.last_error = str(exc)
                logger.warning("registry not usable (%s); retrying", exc)
            except Exception as exc:  # a bug must not stop ingest following specs
                self.last_error = str(exc)
                logger.exception("spec sync failed; retrying")
            behind = self.last_error is not None or bool(self.engine.catalog.not_ready())
            if behind:
                failures += 1
                wait = self.backoff.delay(failures)
            else:
                failures = 0
                wait = max(next_full - loop.time(), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
