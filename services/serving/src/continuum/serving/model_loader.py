"""Loading a model version for serving, as the champion or a rollout's candidate.

One path for both roles, so a candidate is trusted exactly as a champion is: the spec
version it was trained for (from the registry, cached), every artifact sha256-checked,
the model deserialized with the skops allowlist and warmed (:func:`load_and_warm`, in
a worker thread). A transient failure (registry or storage unreachable) raises for the
caller to retry; an artifact that fails a check is counted and remembered as refused,
since it would fail the same way forever.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from uuid import UUID

from continuum.contracts import ModelArtifacts, PipelineSpec
from continuum.modelkit import UntrustedModelError
from continuum.registry_client import RegistryClient, RegistryError
from continuum.runtime import is_transient
from continuum.serving.enrichment import FeatureLookup
from continuum.serving.loading import load_and_warm
from continuum.serving.metrics import Arm, ArmMeter, ServingMetrics
from continuum.serving.models import PipelineSlot, ServingModel
from continuum.storage import IntegrityError, ObjectStore

logger = logging.getLogger(__name__)

# An artifact that fails these checks will fail them forever: remember it, do not retry.
_PERMANENT_LOAD_ERRORS = (IntegrityError, UntrustedModelError)


class SpecNotFoundError(LookupError):
    """The registry does not know the spec version a model was trained with."""


def retryable(exc: BaseException) -> bool:
    """Whether a failed registry or storage call is worth retrying."""
    if isinstance(exc, RegistryError):
        return exc.status_code >= 500
    return is_transient(exc)


class ModelLoader:
    """Loads verified, warmed :class:`ServingModel` objects; remembers refused versions."""

    def __init__(
        self,
        registry: RegistryClient,
        store: ObjectStore,
        metrics: ServingMetrics,
        *,
        batch_max_rows: int = 1000,
        inline_max_rows: int = 0,
        features: FeatureLookup | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.batch_max_rows = batch_max_rows
        self.inline_max_rows = inline_max_rows
        self.features = features  # the online store, for pipelines with feature views
        self.refused: dict[str, set[int]] = {}
        """Versions per pipeline whose artifacts failed a check (never tried again)."""
        self._specs: dict[tuple[str, int], PipelineSpec] = {}

    async def load(
        self,
        slot: PipelineSlot,
        *,
        version: int,
        spec_version: int,
        artifacts: ModelArtifacts,
        correlation_id: UUID,
        arm: Arm,
    ) -> ServingModel | None:
        """``version`` loaded and warmed to answer as ``arm``; ``None`` if refused."""
        try:
            spec = await self.spec(slot.name, spec_version)
            model = await asyncio.to_thread(
                load_and_warm,
                self.store,
                pipeline=slot.name,
                version=version,
                spec_version=spec_version,
                spec=spec,
                artifacts=artifacts,
                correlation_id=correlation_id,
                meter=ArmMeter.bind(self.metrics, slot.name, version, arm),
                batch_max_rows=self.batch_max_rows,
                inline_max_rows=self.inline_max_rows,
                features=self.features,
            )
        except Exception as exc:
            if retryable(exc):
                raise
            self.metrics.model_load_errors.labels(slot.name, type(exc).__name__).inc()
            if isinstance(exc, _PERMANENT_LOAD_ERRORS):
                self.refused.setdefault(slot.name, set()).add(version)
            logger.error(
                "cannot load %s v%d as the %s, keeping v%s: %s",
                slot.name,
                version,
                arm,
                slot.current.version if slot.current else None,
                exc,
            )
            return None
        freeze_heap()
        return model

    async def spec(self, pipeline: str, version: int) -> PipelineSpec:
        """Spec ``version`` of ``pipeline`` (cached: a spec version never changes)."""
        key = (pipeline, version)
        spec = self._specs.get(key)
        if spec is None:
            record = await self.registry.get_spec_version(pipeline, version)
            if record is None:
                raise SpecNotFoundError(f"registry has no spec v{version} of {pipeline}")
            spec = self._specs[key] = record.spec
        return spec


def freeze_heap() -> None:
    """Take everything alive now (imports, the models) out of the collector's sight.

    Profiled under load (bench/serving_bench.py), full collections of a heap holding
    sklearn, pandas and a model took ~330 ms each, several times in 10 s: the p99 at 64
    connections was those pauses. Objects loaded once do not need scanning again; a
    frozen object is still freed by reference counting when a swapped-out model goes,
    only a reference cycle in it would stay (a few objects per swap).
    """
    gc.collect(1)  # the load's young garbage, not the (long) full collection
    gc.freeze()
