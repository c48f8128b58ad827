"""Which pipelines exist, their specs and champions: read from the registry, kept current by
``ModelPromoted`` and ``PipelineChanged`` events.

Topics are consumed independently, so events of one chain can arrive out of order (a
prediction of a new champion before its promotion; old promotions replayed from the
start of the topic). The rules: a promotion older than what the monitor already knows is
a stale replay and is skipped; a prediction of a newer version than the known champion
makes the monitor ask the registry (rate-limited) instead of waiting for the promotion.
A promotion is acted on only if the registry names that version the champion: the event
bus is no way around the registry's gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from continuum.contracts import ModelPromoted, PipelineChanged
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.pipelines import Champion, PipelineState
from continuum.monitor.reference import read_reference
from continuum.monitor.registry_view import (
    RegistryReader,
    as_transient,
    champion_from_record,
    load_pipeline,
)
from continuum.registry_client import ModelVersionRecord, RegistryError
from continuum.runtime import Backoff, retrying
from continuum.storage import ObjectStore

logger = logging.getLogger(__name__)

UNKNOWN_PIPELINE_RECHECK_SECONDS = 60.0
CHAMPION_RECHECK_SECONDS = 5.0


class PipelineDirectory:
    """Every known pipeline's state, and how it changes."""

    def __init__(
        self,
        *,
        registry: RegistryReader,
        store: ObjectStore,
        metrics: MonitorMetrics,
        clock: Callable[[], datetime],
        registry_retry_seconds: float = 1.0,
    ) -> None:
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.registry_retry_seconds = registry_retry_seconds
        self.pipelines: dict[str, PipelineState] = {}
        self._unknown: dict[str, float] = {}  # pipeline -> monotonic time of the lookup
        self._champion_checked: dict[str, float] = {}

    async def bootstrap(self) -> None:
        """Load every pipeline's spec and champion, retrying while the registry is away."""
        await retrying(
            self._load_all,
            what="reading the registry",
            backoff=Backoff(self.registry_retry_seconds),
        )

    async def _load_all(self) -> None:
        now = self.clock()
        try:
            summaries = await self.registry.list_pipelines()
        except RegistryError as exc:
            raise as_transient(exc) from exc
        for summary in summaries:
            state = await load_pipeline(self.registry, summary.name, now)
            if state is not None:
                await self._adopt(state)

    async def _adopt(self, state: PipelineState) -> None:
        self.pipelines[state.name] = state
        self._unknown.pop(state.name, None)
        self.export_window(state)
        if state.champion is not None:
            await self._read_reference_softly(state.champion)

    async def _read_reference_softly(self, champion: Champion) -> None:
        # A reference that cannot be read now is read again when the first window is full.
        try:
            champion.reference = await asyncio.to_thread(
                read_reference, self.store, champion.reference_sample
            )
        except Exception as exc:
            logger.error("reference sample of v%d unreadable: %s", champion.version, exc)

    def export_window(self, state: PipelineState) -> None:
        """Show how full the pipeline's window is."""
        ratio = state.window.fill_ratio if state.window is not None else 0.0
        self.metrics.window_fill_ratio.labels(state.name).set(ratio)
        self.metrics.drift_events.labels(state.name)  # exported at 0 before the first event

    async def get(self, name: str) -> PipelineState | None:
        """The pipeline's state, asking the registry the first time it is seen.

        Raises ``ConnectionError`` (transient) when the registry cannot be asked.
        """
        state = self.pipelines.get(name)
        if state is not None:
            return state
        looked_up = self._unknown.get(name)
        if (
            looked_up is not None
            and time.monotonic() - looked_up < UNKNOWN_PIPELINE_RECHECK_SECONDS
        ):
            return None
        state = await load_pipeline(self.registry, name, self.clock())
        if state is None:
            self._unknown[name] = time.monotonic()
            return None
        await self._adopt(state)
        return state

    def _switch(self, state: PipelineState, champion: Champion) -> None:
        previous = state.champion.version if state.champion is not None else None
        state.use_champion(champion)
        state.pending_drift.clear()  # the old model's drift is moot now
        if previous is not None and previous != champion.version:
            with contextlib.suppress(KeyError):
                self.metrics.drift_share.remove(state.name, str(previous))
        self.export_window(state)
        logger.info("%s: watching champion v%d", state.name, champion.version)

    async def refresh_champion(self, state: PipelineState, seen_version: int) -> None:
        """A prediction of a version newer than the known champion: ask the registry.

        Best effort (the promotion event will come anyway): failures are only logged.
        """
        known = state.champion.version if state.champion is not None else 0
        last = self._champion_checked.get(state.name)
        if seen_version <= known or (
            last is not None and time.monotonic() - last < CHAMPION_RECHECK_SECONDS
        ):
            return
        self._champion_checked[state.name] = time.monotonic()
        now = self.clock()
        try:
            record = await self.registry.get_champion(state.name)
        except (RegistryError, ConnectionError, TimeoutError) as exc:
            logger.warning("could not ask the registry for %s's champion: %s", state.name, exc)
            return
        if record is not None and record.version != known:
            self._switch(state, champion_from_record(record, since=now))
            assert state.champion is not None
            await self._read_reference_softly(state.champion)

    async def _confirmed(self, event: ModelPromoted) -> ModelVersionRecord | None:
        """The registry's record of the promoted version if it is the champion, else ``None``.

        Raises ``TransientError``/``ConnectionError`` when the registry cannot be asked,
        so the event is redelivered rather than acted on unchecked.
        """
        try:
            record = await self.registry.get_champion(event.pipeline)
        except RegistryError as exc:
            raise as_transient(exc) from exc
        if record is not None and record.version == event.version:
            return record
        self.metrics.promotions_ignored.labels(event.pipeline).inc()
        logger.warning(
            "promotion of %s v%d ignored: the registry's champion is %s",
            event.pipeline,
            event.version,
            f"v{record.version}" if record is not None else "none",
        )
        return None

    async def promote(self, event: ModelPromoted) -> None:
        """Apply a promotion the registry confirms: a new champion starts a fresh window.

        The champion's reference sample is the one the registry stored for the version
        (not the event's). Raises when it is missing or corrupt (the event is then
        dead-lettered with the reason, or redelivered if the failure is transient); the
        switch itself has happened by then, so the old model's predictions stop counting.
        """
        state = await self.get(event.pipeline)
        if state is None:
            logger.warning("promotion for unknown pipeline %s ignored", event.pipeline)
            return
        current = state.champion
        stale = current is not None and event.occurred_at < current.since
        if stale and current is not None and current.version != event.version:
            logger.info("stale promotion of %s v%d skipped", event.pipeline, event.version)
            return
        record = await self._confirmed(event)
        if record is None:
            return
        if current is not None and current.version == event.version:
            # Already watching it (a redelivery, a re-promotion, or found via the registry):
            # keep the window, follow the promotion's correlation chain.
            current.correlation_id = event.correlation_id
            current.promotion_event_id = event.event_id
            current.since = max(current.since, event.occurred_at)
        else:
            self._switch(
                state,
                Champion(
                    version=event.version,
                    reference_sample=record.artifacts.reference_sample,
                    correlation_id=event.correlation_id,
                    since=event.occurred_at,
                    promotion_event_id=event.event_id,
                ),
            )
        champion = state.champion
        assert champion is not None
        if champion.reference is None:
            champion.reference = await asyncio.to_thread(
                read_reference, self.store, champion.reference_sample
            )

    async def follow_spec(self, event: PipelineChanged) -> None:
        """Follow the registry's newest spec (policy, features) or forget a retired pipeline."""
        if event.change == "retired":
            self.pipelines.pop(event.pipeline, None)
            return
        state = self.pipelines.get(event.pipeline)
        if state is None:
            self._unknown.pop(event.pipeline, None)
            await self.get(event.pipeline)
            return
        if state.spec_version >= event.spec_version:
            return  # a replay of a spec already followed
        try:
            record = await self.registry.get_spec(event.pipeline)
        except RegistryError as exc:
            raise as_transient(exc) from exc
        if record is not None and record.spec_version > state.spec_version:
            state.use_spec(record.spec, record.spec_version)
            self.export_window(state)
