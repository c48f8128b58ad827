"""The models this replica serves: one slot per pipeline, swapped by one assignment.

A request reads ``slot.current`` once and keeps that :class:`ServingModel` to the end,
so a swap never changes a model under a request: in-flight requests finish on the
model they started with, new ones get the new model, nobody waits or fails. During a
canary or shadow rollout ``slot.rollout`` holds the candidate beside the champion; it
too is replaced by one assignment and read once per request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from continuum.contracts import ModelArtifacts, PipelineSpec
from continuum.modelkit import LoadedModel
from continuum.serving.inference import MicroBatcher
from continuum.serving.metrics import Arm, ArmMeter
from continuum.serving.validation import RecordValidator


@dataclass(frozen=True, slots=True)
class ServingModel:
    """A loaded, verified and warmed model, ready to answer as the champion or a candidate.

    ``meter`` holds its metric children for the arm it was loaded for: a candidate that
    completes its rollout is loaded again as the champion, so the arm never changes.
    """

    pipeline: str
    version: int
    spec_version: int
    model: LoadedModel
    validator: RecordValidator
    artifacts: ModelArtifacts
    correlation_id: UUID
    loaded_at: datetime
    batcher: MicroBatcher
    meter: ArmMeter
    version_label: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "version_label", str(self.version))

    @property
    def spec(self) -> PipelineSpec:
        """The spec the model was trained for (requests are checked against it)."""
        return self.model.spec

    @property
    def arm(self) -> Arm:
        """The rollout arm this model answers on."""
        return self.meter.arm


_HASH_SPACE = 1 << 64


@dataclass(frozen=True, slots=True)
class Rollout:
    """A live rollout: the candidate beside the slot's champion, and its traffic share.

    ``threshold`` is the share on the 64-bit hash space routing compares with (see
    :mod:`continuum.serving.routing`): a share of 1.0 sends every record to the candidate.
    """

    rollout_id: str
    strategy: Literal["canary", "shadow"]
    step: int
    traffic_share: float
    candidate: ServingModel
    threshold: int = field(init=False)

    def __post_init__(self) -> None:
        share = self.traffic_share if self.strategy == "canary" else 0.0
        object.__setattr__(self, "threshold", int(share * _HASH_SPACE))


class PipelineSlot:
    """One pipeline: its newest known spec version and the model serving it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.current: ServingModel | None = None
        self.rollout: Rollout | None = None
        self.latest_spec_version: int | None = None
        # Serialises loads for this pipeline (promotion events vs. registry reconciling).
        self.lock = asyncio.Lock()
        # Serialises rollout changes apart: a candidate loading never delays a promotion.
        self.rollout_lock = asyncio.Lock()
        # Bumped on every swap: a reconcile that read the registry before a swap knows
        # its answer may be stale and leaves the newer model alone.
        self.generation = 0

    def swap(self, model: ServingModel) -> ServingModel | None:
        """Make ``model`` the serving one; returns the model it replaced."""
        previous = self.current
        self.current = model  # the one atomic step requests can observe
        self.generation += 1
        return previous


@dataclass
class ModelTable:
    """Every pipeline this replica knows, and whether the first registry sync finished."""

    slots: dict[str, PipelineSlot] = field(default_factory=dict)
    synced: bool = False

    def get(self, name: str) -> PipelineSlot | None:
        """The slot of ``name``, if the pipeline is known."""
        return self.slots.get(name)

    def slot(self, name: str) -> PipelineSlot:
        """The slot of ``name``, created on first use."""
        found = self.slots.get(name)
        if found is None:
            found = self.slots[name] = PipelineSlot(name)
        return found

    def remove(self, name: str) -> None:
        """Forget a retired pipeline (its requests then get 404)."""
        self.slots.pop(name, None)

    def versions(self) -> dict[str, int | None]:
        """Each pipeline's serving version (``None`` before its first model)."""
        return {
            name: (slot.current.version if slot.current else None)
            for name, slot in sorted(self.slots.items())
        }
