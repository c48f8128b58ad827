"""Both arms of a live rollout step, on the same live traffic, once labels arrive.

The monitor follows the registry's ``RolloutChanged`` (and, at start, the registry's
``GET .../rollout``). For the live step of each pipeline it keeps, per arm (the champion;
the candidate, whether it answered in a canary or predicted in the shadow), the labelled
predictions of that step and the arm's request, error and model-time counts from
serving's ``PredictionsLogged`` messages. Predictions join their labels here, not in the
monitor's main join: in a shadow both arms predict the same request id.

Once both arms have ``deployment.min_labelled`` labelled predictions in the step, the step
is measured (:func:`continuum.monitor.live_quality.measure`: the promotion metric with its
standard error) and a ``RolloutEvaluated`` is due; then again every further
``min_labelled`` labelled predictions of the smaller arm, so the registry has a fresh
verdict once the step has lasted its ``min_seconds``.
"""

from __future__ import annotations

import contextlib
import logging

from continuum.contracts import (
    Feedback,
    PipelineSpec,
    PredictionsLogged,
    RolloutChanged,
    RolloutEvaluated,
)
from continuum.monitor.live_quality import Measurement, measure
from continuum.monitor.metrics import MonitorMetrics
from continuum.monitor.pending import PendingEvents, Publish
from continuum.monitor.quality import LoggedPrediction
from continuum.monitor.registry_view import RegistryReader, as_transient
from continuum.monitor.rollout_steps import ARMS, Arm, StepWatch
from continuum.registry_client import RegistryError, RolloutRecord

logger = logging.getLogger(__name__)

BATCHES_REMEMBERED = 10_000
"""Prediction messages remembered per step, so a redelivered one is not counted twice."""


class RolloutWatch:
    """Every pipeline's live rollout step, fed by predictions and labels."""

    def __init__(self, metrics: MonitorMetrics, join_capacity: int = 100_000) -> None:
        self.metrics = metrics
        self.join_capacity = join_capacity
        self.steps: dict[str, StepWatch] = {}
        self.pending: dict[str, PendingEvents[RolloutEvaluated]] = {}

    # -- following the registry ------------------------------------------------------
    def follow(self, pipeline: str, change: RolloutChanged | RolloutRecord) -> None:
        """Track the step ``change`` announces; forget the rollout once it is over."""
        live = change.state in ("started", "advanced")
        self.metrics.rollout_traffic_share.labels(pipeline).set(
            change.traffic_share if live else 0.0
        )
        current = self.steps.get(pipeline)
        if not live:
            if current is not None and current.rollout_id == change.rollout_id:
                self._forget(pipeline, current)
            return
        if current is not None and (current.rollout_id, current.step) == (
            change.rollout_id,
            change.step,
        ):
            return  # redelivered, or the start-up read of a step already followed
        if current is not None:
            self._forget(pipeline, current)
        started = (
            change.occurred_at if isinstance(change, RolloutChanged) else change.step_started_at
        )
        self.steps[pipeline] = StepWatch(
            rollout_id=change.rollout_id,
            champion_version=change.champion_version,
            candidate_version=change.candidate_version,
            step=change.step,
            traffic_share=change.traffic_share,
            started_at=started,
            correlation_id=change.correlation_id if isinstance(change, RolloutChanged) else None,
        )

    async def load(self, registry: RegistryReader, pipelines: list[str]) -> None:
        """Follow the rollouts under way when the monitor (re)started, from the registry's
        records (the step's labelled predictions so far are not re-read)."""
        for name in pipelines:
            try:
                rollout = await registry.rollout(name)
            except RegistryError as exc:
                raise as_transient(exc) from exc
            if rollout is not None:
                self.follow(name, rollout)

    def _forget(self, pipeline: str, watch: StepWatch) -> None:
        del self.steps[pipeline]
        for arm, version in (
            ("champion", watch.champion_version),
            ("candidate", watch.candidate_version),
        ):
            for gauge in (self.metrics.rollout_metric, self.metrics.rollout_labelled):
                with contextlib.suppress(KeyError):
                    gauge.remove(pipeline, str(version), arm)

    # -- predictions and labels ------------------------------------------------------
    def on_batch(self, batch: PredictionsLogged) -> None:
        """Count and remember a batch of the live step's predictions (other batches are
        not the rollout's: no rollout, another rollout, or logged before this step)."""
        watch = self.steps.get(batch.pipeline)
        if watch is None or batch.rollout_id != watch.rollout_id or batch.event_id in watch.batches:
            return
        watch.batches[batch.event_id] = None
        while len(watch.batches) > BATCHES_REMEMBERED:
            watch.batches.popitem(last=False)
        arm: Arm = "champion" if batch.arm == "champion" else "candidate"
        figures = watch.arms[arm]
        in_step = [p for p in batch.predictions if p.occurred_at >= watch.started_at]
        # A failure is counted whenever it is reported: it happened while this rollout ran.
        figures.errors += batch.errors
        if not in_step:
            return
        figures.records += len(in_step)
        figures.requests += len({record.request_id for record in in_step})
        figures.inference_seconds += batch.inference_seconds * len(in_step) / len(batch.predictions)
        for record in in_step:
            logged = LoggedPrediction(
                batch.model_version,
                record.prediction,
                record.probabilities,
                at=record.event_time or record.occurred_at,
            )
            keys = [("request", record.request_id)]
            if record.entity_id:
                keys.append(("entity", record.entity_id))
            for key in keys:
                watch.joins.setdefault(key, []).append((arm, logged))
                watch.joins.move_to_end(key)
        while len(watch.joins) > self.join_capacity:
            watch.joins.popitem(last=False)

    def on_label(self, event: Feedback, spec: PipelineSpec) -> None:
        """Join a label to the live step's predictions of it (both arms' in a shadow), and
        queue a ``RolloutEvaluated`` when one is due (published by :meth:`flush`)."""
        watch = self.steps.get(event.pipeline)
        if watch is None:
            return
        for kind, key in (("request", event.request_id), ("entity", event.entity_id)):
            found = watch.joins.pop((kind, key), None) if key else None
            if found:
                for arm, logged in found:
                    watch.arms[arm].pairs.append((logged, event.label))
                evaluated = self.evaluate(event.pipeline, spec)
                if evaluated is not None:
                    self.pending.setdefault(event.pipeline, PendingEvents()).add(evaluated)
                return

    async def flush(self, pipeline: str, publish: Publish) -> None:
        """Publish the pipeline's queued evaluations (raises ``TransientError`` while Kafka
        refuses: the label that triggered it is redelivered, the evaluation kept)."""
        pending = self.pending.get(pipeline)
        if pending is None:
            return

        def sent(event: RolloutEvaluated) -> None:
            self.metrics.rollout_evaluations.labels(pipeline).inc()
            logger.info(
                "%s rollout %s step %d: candidate v%d %s %.4f ± %.4f (%d rows)"
                " vs champion v%d %.4f ± %.4f (%d rows)",
                pipeline,
                event.rollout_id,
                event.step,
                event.candidate_version,
                event.metric,
                event.candidate_value,
                event.candidate_std_error,
                event.candidate_rows,
                event.champion_version,
                event.champion_value,
                event.champion_std_error,
                event.champion_rows,
            )

        await pending.flush(publish, sent)

    # -- evaluation ------------------------------------------------------------------
    def evaluate(self, pipeline: str, spec: PipelineSpec) -> RolloutEvaluated | None:
        """The step's ``RolloutEvaluated`` when one is due (see the module docstring)."""
        watch = self.steps.get(pipeline)
        if watch is None:
            return None
        champion, candidate = watch.arms["champion"], watch.arms["candidate"]
        labelled = min(len(champion.pairs), len(candidate.pairs))
        self._export_rows(pipeline, watch)
        threshold = max(watch.next_at, spec.deployment.min_labelled)
        if labelled < threshold:
            return None
        metric = spec.promotion.metric
        measured = {arm: measure(spec.task, metric, watch.arms[arm].pairs) for arm in ARMS}
        if measured["champion"] is None or measured["candidate"] is None:
            return None  # e.g. one class only so far: wait for more labels
        watch.next_at = labelled + spec.deployment.min_labelled
        self._export_metric(pipeline, watch, measured["champion"], measured["candidate"])
        extra = {"correlation_id": watch.correlation_id} if watch.correlation_id else {}
        return RolloutEvaluated(
            pipeline=pipeline,
            rollout_id=watch.rollout_id,
            step=watch.step,
            candidate_version=watch.candidate_version,
            champion_version=watch.champion_version,
            metric=metric,
            candidate_value=measured["candidate"].value,
            champion_value=measured["champion"].value,
            candidate_std_error=measured["candidate"].std_error,
            champion_std_error=measured["champion"].std_error,
            candidate_rows=len(candidate.pairs),
            champion_rows=len(champion.pairs),
            candidate_error_rate=candidate.error_rate(),
            candidate_latency_ms=candidate.latency_ms(),
            champion_latency_ms=champion.latency_ms(),
            **extra,
        )

    def _export_rows(self, pipeline: str, watch: StepWatch) -> None:
        for arm, version in (
            ("champion", watch.champion_version),
            ("candidate", watch.candidate_version),
        ):
            rows = len(watch.arms[arm].pairs)  # type: ignore[index]
            self.metrics.rollout_labelled.labels(pipeline, str(version), arm).set(rows)

    def _export_metric(
        self, pipeline: str, watch: StepWatch, champion: Measurement, candidate: Measurement
    ) -> None:
        gauge = self.metrics.rollout_metric
        gauge.labels(pipeline, str(watch.champion_version), "champion").set(champion.value)
        gauge.labels(pipeline, str(watch.candidate_version), "candidate").set(candidate.value)
