"""Logged predictions as ``PredictionsLogged`` messages: one JSON document, one signature.

Built without a pydantic model per prediction: the rows are plain dicts serialized once
with pydantic-core (``to_json``) into the shape :class:`~continuum.contracts.PredictionsLogged`
validates (tests decode what this produces with the contract). A message stays below
:data:`MAX_MESSAGE_BYTES` (Kafka refuses requests above 1 MiB by default): a batch that
would be larger is split in halves. One message holds one model's predictions in one
rollout arm (``arm``, ``rollout_id``), with the model time they took and the records
that arm failed since its last message (``errors``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import JsonValue
from pydantic_core import to_json

from continuum.contracts import (
    EventKeyring,
    KafkaRecord,
    PredictionsLogged,
    cloudevent_headers,
)
from continuum.contracts.topics import PREDICTIONS
from continuum.serving.models import ServingModel

SOURCE = "continuum-serving"
MAX_MESSAGE_BYTES = 512 * 1024


class LoggedRequest(NamedTuple):
    """What the request path queues: one request's predictions, turned into rows later.

    ``logged`` records are logged (the first ones; fewer than ``len(records)`` when the
    queue could not take them all). ``positions``: each record's index in the request
    (``None``: 0, 1, ...), so a canary request split between arms, and a shadow copy,
    keep the request ids the client's records have. ``seconds``: model time on them.
    """

    model: ServingModel
    request_id: str
    records: list[dict[str, Any]]
    labels: list[JsonValue]
    probabilities: list[dict[str, float]] | None
    entity_ids: list[str | None]
    event_times: list[datetime | None]
    occurred_at: datetime
    logged: int
    rollout_id: str | None = None
    seconds: float = 0.0
    positions: Sequence[int] | None = None


@dataclass(frozen=True, slots=True)
class ArmBatch:
    """What one message group shares: the model, its arm's rollout, time and failures."""

    model: ServingModel
    rollout_id: str | None
    seconds: float
    errors: int


def rows_of(request: LoggedRequest) -> list[dict[str, Any]]:
    """One ``PredictionRecord``-shaped dict per logged prediction of ``request``."""
    features_of = request.model.validator.features_of
    probabilities = request.probabilities
    prefix = request.request_id
    positions = request.positions
    return [
        {
            "request_id": f"{prefix}:{i if positions is None else positions[i]}",
            "occurred_at": request.occurred_at,
            "features": features_of(request.records[i]),
            "prediction": request.labels[i],
            "probabilities": probabilities[i] if probabilities is not None else None,
            "entity_id": request.entity_ids[i],
            "event_time": request.event_times[i],
        }
        for i in range(request.logged)
    ]


def encode_rows(
    batch: ArmBatch, rows: list[dict[str, Any]], keyring: EventKeyring
) -> list[tuple[KafkaRecord, int]]:
    """Signed ``PredictionsLogged`` messages for ``rows`` (all of one model and arm), keyed
    by pipeline, each with the number of predictions it carries."""
    model = batch.model
    envelope = PredictionsLogged.model_construct(
        pipeline=model.pipeline,
        # The promotion's correlation id: predictions stay on the model version's chain.
        correlation_id=model.correlation_id,
        model_version=model.version,
        predictions=[],
        arm=model.arm,
        rollout_id=batch.rollout_id,
        inference_seconds=batch.seconds,
        errors=batch.errors,
    )
    body = envelope.model_dump()
    body["predictions"] = rows
    value = to_json(body)
    if len(value) > MAX_MESSAGE_BYTES and len(rows) > 1:
        # Time split by rows; the failures counted once, in the first half.
        half = len(rows) // 2
        first_seconds = batch.seconds * half / len(rows)
        first = ArmBatch(model, batch.rollout_id, first_seconds, batch.errors)
        rest = ArmBatch(model, batch.rollout_id, batch.seconds - first_seconds, 0)
        return encode_rows(first, rows[:half], keyring) + encode_rows(rest, rows[half:], keyring)
    headers = keyring.sign(value, cloudevent_headers(envelope, SOURCE))
    return [(KafkaRecord(PREDICTIONS, model.pipeline.encode(), value, headers), len(rows))]


def by_model(
    requests: Iterable[LoggedRequest],
) -> list[tuple[ServingModel, str | None, list[LoggedRequest]]]:
    """Requests grouped by the model and rollout that answered them (a swap or a rollout
    change may fall inside a batch). A model answers on one arm, so this groups by arm."""
    groups: dict[tuple[int, str | None], tuple[ServingModel, str | None, list[LoggedRequest]]]
    groups = {}
    for request in requests:
        # By identity: a model is one loaded object, and hashing its fields would cost.
        key = (id(request.model), request.rollout_id)
        groups.setdefault(key, (request.model, request.rollout_id, []))[2].append(request)
    return list(groups.values())
