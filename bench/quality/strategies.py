"""The four ways of deciding when to retrain that the benchmark compares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.quality.replay import Replay, auc, auc_std_error
from continuum.modelkit.policy_state import PolicyState, WindowQuality
from continuum.modelkit.retrain_policy import CostAwarePolicy


@dataclass
class Outcome:
    """What one strategy did on a stream: its scores per batch and its training runs."""

    name: str
    per_batch: list[float] = field(default_factory=list)
    scores: list[np.ndarray[Any, Any]] = field(default_factory=list)
    labels: list[np.ndarray[Any, Any]] = field(default_factory=list)
    runs: int = 0
    promoted: int = 0
    decisions: list[str] = field(default_factory=list)

    def serve(self, replay: Replay, model_after: int, batch: int) -> np.ndarray[Any, Any]:
        scores = replay.predict(model_after, batch)
        labels = replay.labels(batch)
        self.scores.append(scores)
        self.labels.append(labels)
        self.per_batch.append(auc(labels, scores))
        return scores

    @property
    def pooled(self) -> float:
        """The metric over every prediction the strategy served."""
        return auc(np.concatenate(self.labels), np.concatenate(self.scores))


def scheduled(replay: Replay, name: str, every: int | None) -> Outcome:
    """Retrain after every ``every``-th batch (``None``: train once, at the cold start)."""
    start = replay.first_trainable()
    out = Outcome(name, runs=1, promoted=1)
    replay.train(start)
    champion = start
    for batch in range(start + 1, len(replay.batches)):
        out.serve(replay, champion, batch)
        last = batch == len(replay.batches) - 1
        if every is not None and not last and (batch - start) % every == 0:
            replay.train(batch)
            champion = batch
            out.runs += 1
            out.promoted += 1
    return out


def cost_aware(replay: Replay, retrain_cost: float, **options: Any) -> Outcome:
    """Continuum's policy, with the platform's promotion gate (no promotion on a tie)."""
    spec = replay.spec
    policy = CostAwarePolicy(
        higher_is_better=spec.higher_is_better,
        retrain_cost=retrain_cost,
        window_rows=spec.training.window_rows,
        **options,
    )
    start = replay.first_trainable()
    first = replay.train(start)
    champion, version = start, 1
    state = policy.on_trained(
        PolicyState(),
        candidate_score=first.holdout_score,
        champion_score=None,
        candidate_std_error=auc_std_error(first.holdout_score, first.y_holdout),
        promoted=True,
        version=version,
        rows_train=first.rows_train,
    )
    out = Outcome("continuum", runs=1, promoted=1)
    available = sum(len(b) for b in replay.batches[: start + 1])
    for batch in range(start + 1, len(replay.batches)):
        scores = out.serve(replay, champion, batch)
        labels = replay.labels(batch)
        available += len(labels)
        value = auc(labels, scores)
        window = WindowQuality(
            model_version=version,
            value=value,
            std_error=auc_std_error(value, labels),
            rows=len(labels),
        )
        state, decision = policy.on_window(state, window, available_rows=available)
        if not decision.retrain or batch == len(replay.batches) - 1:
            continue
        candidate = replay.train(batch)
        out.runs += 1
        champion_score = replay.score_on(champion, candidate.holdout, candidate.y_holdout)
        promoted = candidate.holdout_score > champion_score
        out.decisions.append(
            f"after batch {batch}: {decision.reason}; candidate {candidate.holdout_score:.4f}"
            f" vs champion {champion_score:.4f} -> {'promoted' if promoted else 'rejected'}"
        )
        growth = decision.rule == "growth"
        if promoted:
            champion, version = batch, version + 1
            out.promoted += 1
        state = policy.on_trained(
            growth=growth,
            state=state,
            candidate_score=candidate.holdout_score,
            candidate_std_error=auc_std_error(candidate.holdout_score, candidate.y_holdout),
            champion_score=champion_score,
            promoted=promoted,
            version=version,
            rows_train=candidate.rows_train,
        )
    return out
