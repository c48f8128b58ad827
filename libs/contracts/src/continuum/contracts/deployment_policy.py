"""How a candidate that passed the gate reaches live traffic: the ``deployment:`` section.

``direct`` promotes at once (the behaviour before rollouts existed). ``canary`` gives the
candidate a growing share of live requests in ``steps``; ``shadow`` lets it predict on a
copy of live traffic whose answers are logged but never returned. At each step the
monitor compares both arms on the same live traffic once labels arrive, and the registry
advances, completes (promotes) or rolls back. The section lives in its own module like
the spec's other sections (``record_schema``, ``loop_policies``, ``evaluation_policy``).
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, model_validator

from continuum.contracts.record_schema import SpecModel

RolloutStrategy = Literal["direct", "canary", "shadow"]


class DeploymentPolicy(SpecModel):
    """The rollout strategy of new champions and the rules each step is judged by.

    A step is judged once both arms have ``min_labelled`` labelled predictions in it and
    it has lasted ``min_seconds``. The candidate is rolled back when its live metric trails
    the champion's by more than ``tolerance`` plus twice the combined standard error, when
    its error rate exceeds ``max_error_rate``, when its mean inference time exceeds the
    champion's by ``max_latency_ratio`` (and is over ``latency_floor_ms``), or when no
    verdict came within ``max_step_seconds``.
    """

    strategy: RolloutStrategy = "direct"
    steps: list[float] = Field(
        default_factory=lambda: [0.1, 0.5, 1.0],
        min_length=1,
        description="Canary traffic shares, increasing, the last 1.0 (shadow: ignored).",
    )
    min_labelled: int = Field(
        default=300, ge=10, description="Labelled predictions per arm before a step is judged."
    )
    min_seconds: float = Field(default=0, ge=0, description="And at least this long at a step.")
    max_step_seconds: float | None = Field(
        default=None, gt=0, description="No verdict by then: roll back (the reason says so)."
    )
    tolerance: float = Field(
        default=0.0,
        ge=0,
        description="The candidate's metric may trail the champion's by this (plus noise).",
    )
    max_error_rate: float = Field(
        default=0.01, ge=0, le=1, description="Candidate failures / candidate requests."
    )
    max_latency_ratio: float = Field(
        default=3.0, gt=1, description="Candidate mean inference time / the champion's."
    )
    latency_floor_ms: float = Field(
        default=2.0,
        ge=0,
        description=(
            "The latency ratio is judged only when the candidate's mean model time per"
            " request is above this: between two sub-millisecond calls the ratio measures"
            " per-call overhead and noise, not a cost a caller sees."
        ),
    )

    @model_validator(mode="after")
    def _steps_climb_to_all_traffic(self) -> Self:
        if any(not 0 < share <= 1 for share in self.steps):
            raise ValueError("every step is a traffic share in (0, 1]")
        if any(a >= b for a, b in zip(self.steps, self.steps[1:], strict=False)):
            raise ValueError(f"steps must increase, got {self.steps}")
        if self.steps[-1] != 1.0:
            raise ValueError(f"the last step must be 1.0 (all traffic), got {self.steps[-1]}")
        # Steps below 1.0 are judged (both arms answer); reaching 1.0 completes the rollout.
        if self.strategy == "canary" and len(self.steps) < 2:
            raise ValueError("a canary needs a step below 1.0: at 1.0 the champion answers none")
        return self

    def step_count(self) -> int:
        """How many steps a rollout of this strategy has (shadow: one evaluation step).

        A canary's last step (1.0) is where it completes: the steps before it are judged.
        """
        return len(self.steps) if self.strategy == "canary" else 1

    def traffic_share(self, step: int) -> float:
        """The share of requests the candidate answers at ``step`` (shadow: none)."""
        return self.steps[step] if self.strategy == "canary" else 0.0
