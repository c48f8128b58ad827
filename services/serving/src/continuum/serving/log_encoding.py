"""Logged predictions as ``PredictionsLogged`` messages: one JSON document, one signature.

Built without a pydantic model per prediction: the rows are plain dicts serialized once
with pydantic-core (``to_json``) into the shape :class:`~continuum.contracts.PredictionsLogged`
validates (tests decode what this produces with the contract). A message stays below
:data:`MAX_MESSAGE_BYTES` (Kafka refuses requests above 1 MiB by default): a batch that
would be larger is split in halves.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    queue could not take them all).
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


def rows_of(request: LoggedRequest) -> list[dict[str, Any]]:
    """One ``PredictionRecord``-shaped dict per logged prediction of ``request``."""
    features_of = request.model.validator.features_of
    probabilities = request.probabilities
    prefix = request.request_id
    return [
        {
            "request_id": f"{prefix}:{i}",
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
    model: ServingModel, rows: list[dict[str, Any]], keyring: EventKeyring
) -> list[tuple[KafkaRecord, int]]:
    """Signed ``PredictionsLogged`` messages for ``rows`` (all of ``model``), keyed by
    pipeline, each with the number of predictions it carries."""
    envelope = PredictionsLogged.model_construct(
        pipeline=model.pipeline,
        # The promotion's correlation id: predictions stay on the model version's chain.
        correlation_id=model.correlation_id,
        model_version=model.version,
        predictions=[],
    )
    body = envelope.model_dump()
    body["predictions"] = rows
    value = to_json(body)
    if len(value) > MAX_MESSAGE_BYTES and len(rows) > 1:
        half = len(rows) // 2
        return encode_rows(model, rows[:half], keyring) + encode_rows(model, rows[half:], keyring)
    headers = keyring.sign(value, cloudevent_headers(envelope, SOURCE))
    return [(KafkaRecord(PREDICTIONS, model.pipeline.encode(), value, headers), len(rows))]


def by_model(requests: Iterable[LoggedRequest]) -> list[tuple[ServingModel, list[LoggedRequest]]]:
    """Requests grouped by the model that answered them (a swap may fall inside a batch)."""
    groups: dict[int, tuple[ServingModel, list[LoggedRequest]]] = {}
    for request in requests:
        # By identity: a model is one loaded object, and hashing its fields would cost.
        groups.setdefault(id(request.model), (request.model, []))[1].append(request)
    return list(groups.values())
