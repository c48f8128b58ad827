"""What the cost-aware retraining policy reads, remembers and decides (its records).

:class:`WindowQuality` comes from the monitor (one labelled window of the champion),
:class:`PolicyState` is what the trainer persists per pipeline between events, and
:class:`Decision` is the answer; the rule itself is :mod:`continuum.modelkit.retrain_policy`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Decision", "PolicyState", "Rule", "WindowQuality"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowQuality(_Frozen):
    """The champion's live quality on one window of labelled predictions."""

    model_version: int
    value: float = Field(description="The promotion metric on the window.")
    std_error: float = Field(ge=0, description="Standard error of ``value``.")
    rows: int = Field(ge=0)
    drift_share: float | None = Field(default=None, ge=0, le=1)
    drifted: bool = False


class PolicyState(_Frozen):
    """What the policy remembers about a pipeline's champion (persisted by the trainer)."""

    champion_version: int | None = None
    champion_rows: int = 0
    reference: float | None = Field(
        default=None, description="The level a fresh model is known to reach (lower bound)."
    )
    accumulated_loss: float = 0.0
    windows: int = 0
    recent: tuple[float, ...] = Field(
        default=(), description="The metric on the latest windows (any champion), newest last."
    )
    gain_sum: float = Field(default=0.0, description="Discounted sum of gains runs measured.")
    age_sum: float = Field(default=0.0, description="Discounted sum of the champions' ages.")
    hold_rows: int = Field(
        default=0, ge=0, description="New rows to wait for after a rejected run (set once)."
    )
    hold_until_rows: int = Field(
        default=0, ge=0, description="No loss or staleness run before this many rows exist."
    )
    held: bool = Field(
        default=False, description="The last run was rejected on a changed stream, and held."
    )

    def following(self, version: int) -> PolicyState:
        """This state for a champion the gate did not choose (a manual promotion, a
        rollback): nothing is known of it, so its account starts over and its first window
        is its reference; what the runs taught (staleness, recent windows) is kept."""
        return self.model_copy(
            update={
                "champion_version": version,
                "champion_rows": 0,
                "reference": None,
                "accumulated_loss": 0.0,
                "windows": 0,
                "hold_rows": 0,
                "hold_until_rows": 0,
                "held": False,
            }
        )


Rule = Literal["ignored", "wait", "growth", "staleness", "loss"]
"""Which rule decided: ``growth``, ``staleness`` and ``loss`` retrain; the others do not."""


class Decision(_Frozen):
    """Whether to retrain now, which rule said so, and why (for logs and the run's trigger)."""

    retrain: bool
    rule: Rule
    reason: str
    accumulated_loss: float
    excess_loss: float
