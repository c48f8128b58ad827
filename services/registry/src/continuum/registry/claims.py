"""What a ``ModelTrained`` event claims, held against what the registry measured.

The event's figures are never used to decide; they are only compared, so a run whose
numbers do not match (a bug, or a forged event) is visible in the log, the metrics and
the decision reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from continuum.contracts import ModelTrained
from continuum.registry.gate import Measured

CLAIM_TOLERANCE = 1e-6
"""Differences up to this are float noise (thread counts, summation order), not a lie."""


def _differs(claimed: float, measured: float) -> bool:
    return not math.isclose(claimed, measured, rel_tol=CLAIM_TOLERANCE, abs_tol=CLAIM_TOLERANCE)


@dataclass(frozen=True)
class ClaimCheck:
    """Notes for the decision reason; ``mismatches`` counts figures that did not match."""

    notes: list[str] = field(default_factory=list)
    mismatches: int = 0


def check_claims(
    event: ModelTrained, measured: Measured, metric: str, champion_version: int | None
) -> ClaimCheck:
    """Each claim of ``event`` on ``metric`` that the registry did not confirm, as a note.

    Claims are compared only when the registry scored the whole holdout (a sample gives
    other figures anyway) and, for the champion's, when the run scored the same champion.
    A changed champion is noted too (it is why the run's comparison is moot).
    """
    notes: list[str] = []
    if event.champion_version != champion_version and champion_version is not None:
        scored = f"v{event.champion_version}" if event.champion_version else "no champion"
        notes.append(
            f"the champion changed since training (the run compared with {scored}, "
            f"the gate with v{champion_version})"
        )
    if measured.sampled:
        return ClaimCheck(notes)
    mismatches = 0
    claimed = event.metrics.get(metric)
    ours = measured.candidate.get(metric)
    if claimed is not None and (ours is None or _differs(claimed, ours)):
        shown = "none" if ours is None else f"{ours:.6g}"
        mismatches += 1
        notes.append(f"the run claimed {metric}={claimed:.6g}, the registry measured {shown}")
    claimed_champion = event.champion_metrics.get(metric)
    ours_champion = (measured.champion or {}).get(metric)
    if (
        claimed_champion is not None
        and ours_champion is not None
        and event.champion_version == champion_version
        and _differs(claimed_champion, ours_champion)
    ):
        mismatches += 1
        notes.append(
            f"the run claimed champion {metric}={claimed_champion:.6g}, "
            f"the registry measured {ours_champion:.6g}"
        )
    return ClaimCheck(notes, mismatches)
