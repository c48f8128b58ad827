"""One prediction request, from raw body bytes to the response body.

Kept apart from the HTTP layer so its steps (parse, check, predict, log) can be
measured and tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from continuum.contracts import utc_now
from continuum.serving.models import ServingModel
from continuum.serving.prediction_log import LoggedPrediction, PredictionLog
from continuum.serving.validation import parse_body


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """The response body of a successful prediction request, and how many records it had."""

    body: dict[str, Any]
    records: int


class Predictor:
    """Parses, checks, predicts and logs; the model is chosen by the caller, once."""

    def __init__(self, log: PredictionLog, *, max_records: int) -> None:
        self.log = log
        self.max_records = max_records

    async def handle(self, model: ServingModel, body: bytes) -> PredictionResult:
        """Predict for a request body; raises ``RequestInvalidError`` for a bad one."""
        records = parse_body(body, self.max_records)
        checked = model.validator.check(records)
        predictions = await model.batcher.predict(checked.values)
        request_id = uuid4().hex
        now = utc_now()
        labels = predictions.labels
        probabilities = predictions.probabilities
        out: list[dict[str, Any]] = []
        offer = self.log.offer
        for i, label in enumerate(labels):
            proba = probabilities[i] if probabilities is not None else None
            out.append(
                {"prediction": label, "probabilities": proba}
                if proba is not None
                else {"prediction": label}
            )
            offer(
                LoggedPrediction(
                    model,
                    f"{request_id}:{i}",
                    records[i],
                    label,
                    proba,
                    checked.entity_ids[i],
                    checked.event_times[i],
                    now,
                )
            )
        return PredictionResult(
            body={
                "request_id": request_id,
                "model_version": model.version,
                "pipeline": model.pipeline,
                "predictions": out,
            },
            records=len(records),
        )
