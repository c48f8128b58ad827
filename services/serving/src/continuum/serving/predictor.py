"""One prediction request, from raw body bytes to the response body.

Kept apart from the HTTP layer so its steps (parse, check, predict, log) can be
measured and tested without a server.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any, NamedTuple

from continuum.contracts import utc_now
from continuum.modelkit import Predictions
from continuum.serving.canary import score_canary
from continuum.serving.inference import Inferred
from continuum.serving.log_encoding import LoggedRequest
from continuum.serving.models import Rollout, ServingModel
from continuum.serving.prediction_log import PredictionLog
from continuum.serving.shadow import ShadowQueue
from continuum.serving.validation import CheckedRecords, parse_body


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """The response body of a successful prediction request, and how many records it had."""

    body: dict[str, Any]
    records: int
    version_label: str


class Scored(NamedTuple):
    """A request's predictions and who answered them (a tuple: built once per request).

    ``model`` answered every record, except during a canary whose request was split
    between both arms: then ``versions`` names the version that answered each record
    (``model`` is the champion). A canary request answered wholly by the candidate has
    the candidate as ``model``.
    """

    request_id: str
    predictions: Predictions
    model: ServingModel
    versions: list[int] | None = None


class RequestIds:
    """32 hex characters per request: a random per-process half and a counter.

    Unique like a uuid4 across replicas and restarts (64 random bits per process), without
    reading the OS's random source per request (uuid4 was 6% of a 1-record request).
    """

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._counter = itertools.count()

    def next(self) -> str:
        """A new request id."""
        return f"{self._prefix}{next(self._counter):016x}"


class Predictor:
    """Parses, checks, predicts and logs; the model (and rollout) chosen by the caller, once."""

    def __init__(
        self, log: PredictionLog, *, max_records: int, shadow: ShadowQueue | None = None
    ) -> None:
        self.log = log
        self.shadow = shadow
        self.max_records = max_records
        self.ids = RequestIds()

    async def handle(
        self, model: ServingModel, body: bytes, rollout: Rollout | None = None
    ) -> PredictionResult:
        """Predict for a request body; raises ``RequestInvalidError`` for a bad one."""
        records = parse_body(body, self.max_records)
        scored = await self.score(model, records, rollout)
        predictions = scored.predictions
        labels = predictions.labels
        probabilities = predictions.probabilities
        out: list[dict[str, Any]] = (
            [{"prediction": label} for label in labels]
            if probabilities is None
            else [
                {"prediction": label, "probabilities": proba}
                for label, proba in zip(labels, probabilities, strict=True)
            ]
        )
        if scored.versions is not None:
            # Split between a canary's arms: each answer names the version that gave it.
            for answer, version in zip(out, scored.versions, strict=True):
                answer["model_version"] = version
        return PredictionResult(
            body={
                "request_id": scored.request_id,
                "model_version": scored.model.version,
                "pipeline": model.pipeline,
                "predictions": out,
            },
            records=len(records),
            version_label=scored.model.version_label,
        )

    async def score(
        self, model: ServingModel, records: list[dict[str, Any]], rollout: Rollout | None = None
    ) -> Scored:
        """Check, predict and log ``records`` with the champion ``model`` (and ``rollout``).

        Every route that predicts goes through here, so each prediction is checked by
        the record contract and logged the same way (the monitor relies on the log).
        Raises ``RequestInvalidError`` for invalid records. A canary's candidate answers
        its share of the records (any it fails, the champion answers); a shadow's
        predicts a copy after this returns.
        """
        checked = model.validator.check(records)
        request_id = self.ids.next()
        if rollout is None:
            inferred = await model.batcher.predict(checked.values)
            self.logged(model, None, request_id, records, checked, inferred)
            return Scored(request_id, inferred.predictions, model)
        if rollout.strategy == "canary":
            predictions, answered_by, versions = await score_canary(
                self, model, rollout, request_id, records, checked
            )
            return Scored(request_id, predictions, answered_by, versions)
        inferred = await model.batcher.predict(checked.values)
        self.logged(model, rollout.rollout_id, request_id, records, checked, inferred)
        if self.shadow is not None:
            same_spec = rollout.candidate.spec_version == model.spec_version
            self.shadow.offer(rollout, request_id, records, checked, same_spec=same_spec)
        return Scored(request_id, inferred.predictions, model)

    def logged(
        self,
        model: ServingModel,
        rollout_id: str | None,
        request_id: str,
        records: list[dict[str, Any]],
        checked: CheckedRecords,
        inferred: Inferred,
        positions: list[int] | None = None,
    ) -> None:
        """Count and log what ``model`` answered: one queue entry per request and arm.

        ``records`` and ``checked`` are the ones it answered, ``positions`` their places
        in the request (``None``: all of it, in order).
        """
        counts = model.meter.counts
        counts.records += len(records)
        counts.requests += 1
        predictions = inferred.predictions
        self.log.offer(
            LoggedRequest(
                model,
                request_id,
                records,
                predictions.labels,
                predictions.probabilities,
                checked.entity_ids,
                checked.event_times,
                utc_now(),
                len(records),
                rollout_id,
                inferred.seconds,
                positions,
            )
        )
