"""Events of a canary or shadow rollout: the registry's decisions and the monitor's verdicts.

Both travel on ``continuum.rollouts``. The registry publishes :class:`RolloutChanged`
whenever a rollout starts, moves to its next step, completes or rolls back; serving
routes by it and the monitor scores each step. The monitor publishes
:class:`RolloutEvaluated` once both arms have enough labelled predictions in a step,
and the registry decides on it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from continuum.contracts.envelope import Event, VersionNumber

RolloutState = Literal["started", "advanced", "completed", "rolled_back"]


class RolloutChanged(Event):
    """A rollout started, advanced a step, completed (the candidate is champion) or rolled back.

    On ``completed`` the registry also promotes the candidate with ``ModelPromoted`` as
    any promotion; on ``rolled_back`` the champion never changed. ``traffic_share`` is the
    share of requests the candidate answers at ``step`` (shadow: 0.0, it answers none).
    """

    event_type: Literal["continuum.rollouts.changed"] = "continuum.rollouts.changed"
    rollout_id: str
    strategy: Literal["canary", "shadow"]
    champion_version: VersionNumber
    candidate_version: VersionNumber
    step: int = Field(ge=0, description="Index into the spec's deployment.steps (shadow: 0).")
    traffic_share: float = Field(ge=0, le=1)
    state: RolloutState
    reason: str = ""


class RolloutEvaluated(Event):
    """Both arms of one rollout step on the same live traffic, once labels arrived.

    ``*_rows`` are the labelled predictions per arm in this step; the error rate is the
    candidate's failures over its requests; latencies are mean model time per request
    an arm answered (per record, a canary's smaller share of each request looked slower).
    """

    event_type: Literal["continuum.rollouts.evaluated"] = "continuum.rollouts.evaluated"
    rollout_id: str
    step: int = Field(ge=0)
    candidate_version: VersionNumber
    champion_version: VersionNumber
    metric: str
    candidate_value: float = Field(allow_inf_nan=False)
    champion_value: float = Field(allow_inf_nan=False)
    candidate_std_error: float = Field(ge=0, allow_inf_nan=False)
    champion_std_error: float = Field(ge=0, allow_inf_nan=False)
    candidate_rows: int = Field(ge=0)
    champion_rows: int = Field(ge=0)
    candidate_error_rate: float = Field(ge=0, le=1)
    candidate_latency_ms: float = Field(ge=0)
    champion_latency_ms: float = Field(ge=0)
