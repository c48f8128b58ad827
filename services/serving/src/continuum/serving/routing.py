"""Which records of a request a canary's candidate answers: sticky, by a stable hash.

A record goes to the candidate when the hash of (rollout id, entity id) falls below the
step's traffic share on the 64-bit hash space. The hash does not depend on the step, so
an entity stays on one arm for a whole step, and keeps the candidate when the share
grows (a hash below 0.1 is below 0.5 too). A record without an entity id is routed by
the request id instead: the records of one request without ids stay together. blake2b
is stable across processes and replicas (Python's ``hash`` of a str is salted per
process), so every replica routes an entity the same way.
"""

from __future__ import annotations

from hashlib import blake2b

from continuum.serving.models import Rollout


def route_hash(rollout_id: str, key: str) -> int:
    """A stable 64-bit hash of ``key`` within one rollout."""
    digest = blake2b(f"{rollout_id}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def candidate_positions(
    rollout: Rollout, entity_ids: list[str | None], request_id: str
) -> list[int]:
    """The positions of the records the candidate answers (empty outside a canary)."""
    threshold = rollout.threshold
    if threshold <= 0:
        return []
    rollout_id = rollout.rollout_id
    by_request: bool | None = None  # hashed once, only if a record has no entity id
    positions = []
    for position, entity_id in enumerate(entity_ids):
        if entity_id is None:
            if by_request is None:
                by_request = route_hash(rollout_id, request_id) < threshold
            chosen = by_request
        else:
            chosen = route_hash(rollout_id, entity_id) < threshold
        if chosen:
            positions.append(position)
    return positions
