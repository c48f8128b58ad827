"""When does retraining pay for itself? A cost-aware decision from the champion's live quality.

Input drift is not the same as the model getting worse, and the model getting worse on a
window is not the same as a retrain helping (some windows are simply harder). The policy
decides on what retraining is for, the promotion metric measured live once delayed labels
arrive, in the spirit of CARA (Mahadevan & Mathioudakis, 2023) and UPF (Regol et al.,
ICML 2025). Retraining is decided as a cost: ``retrain_cost`` is one run's price in metric
units summed over monitoring windows. Two estimates of what not retraining costs, either
of which may buy a run:

* **Acute loss (CUSUM).** Each window's shortfall below the reference (the level a fresh
  model is known to reach: the last promoted candidate's holdout score less ``noise_z``
  standard errors) accumulates, less an allowance for noise: ``noise_z`` times the larger
  of the window's standard error (Hanley & McNeil for AUC) and the metric's own spread
  between recent windows (scaled MAD: stormy weeks are hard for every model, a retrain
  does not fix them). Input drift on the window (the monitor's drift flag) halves the
  allowance: drift is an early signal that a loss is real, never a trigger on its own.
* **Staleness (learned from the runs).** Every run measures, on the newest data, how much
  better a fresh model is than the champion (a paired comparison, so hard windows cancel
  out). Divided by the champion's age in windows, that is a rate of decay; the loss of
  keeping a champion ``k`` windows is ``rate * k(k+1)/2``, and once that reaches the cost,
  retrain (a period of about ``sqrt(2 * cost / rate)``: slow streams retrain rarely).
  Older runs are forgotten geometrically (``forget``), so the rate follows the seasons.

Each is a ski-rental rule: pay for the run once what renting (serving a stale model) has
cost reaches the price of buying. A run the gate rejects teaches the policy that the loss
was not recoverable, with the data the window holds: if the champion still reaches the
reference on the newest data, the reference drops to that score and the measured gain is
zero. If the champion fell below the reference too, the world changed and the window is
still mostly old data: the reference stays, and the next run waits until ``hold_fraction``
of the window has turned over (so a concept change is retried, not accepted as the new
normal); rejected again, the stream got harder, and the reference drops after all.
Growth of the data is a gain too: a champion trained on less than half the training
window is retrained once the window can be filled.

``bench/quality`` measures the rule against train-once and periodic retraining on real and
synthetic streams; the defaults here are the ones it supports.
"""

from __future__ import annotations

import math

from continuum.modelkit.metric_noise import window_spread
from continuum.modelkit.policy_state import Decision, PolicyState, WindowQuality

__all__ = ["CostAwarePolicy"]


class CostAwarePolicy:
    """The decision rule; pure and deterministic (state in, state and decision out)."""

    def __init__(
        self,
        *,
        higher_is_better: bool,
        retrain_cost: float,
        window_rows: int | None,
        noise_z: float = 0.75,
        spread_windows: int = 10,
        forget: float = 0.5,
        hold_fraction: float = 0.5,
        change_z: float = 2.0,
        use_spread: bool = True,
        use_staleness: bool = True,
    ) -> None:
        self.sign = 1.0 if higher_is_better else -1.0
        self.retrain_cost = retrain_cost
        self.window_rows = window_rows
        self.noise_z = noise_z
        self.spread_windows = spread_windows
        self.forget = forget
        self.hold_fraction = hold_fraction
        self.change_z = change_z
        self.use_spread = use_spread
        self.use_staleness = use_staleness

    def on_trained(
        self,
        state: PolicyState,
        *,
        candidate_score: float | None,
        candidate_std_error: float = 0.0,
        champion_score: float | None,
        promoted: bool,
        version: int | None,
        rows_train: int,
        growth: bool = False,
    ) -> PolicyState:
        """A run finished: the account starts over, the reference learns from the run.

        Promoted: a fresh model reaches at least its holdout score less ``noise_z``
        standard errors, and that is the new reference; but when the candidate falls far
        short of the old reference (see :meth:`_fell_short`) it keeps the higher one,
        because a candidate trained just after a change (its window still mostly old data)
        scores low for a reason a later retrain removes. Rejected: the champion scored as
        well as a fresh model on the newest data, so that score is what it should be held
        to (unless the stream changed: then the next run waits; see the module docstring).
        """
        gain_sum, age_sum = state.gain_sum, state.age_sum
        if champion_score is not None and candidate_score is not None and not growth:
            # The run measured, on the newest data, what retraining after ``windows``
            # windows was worth: a paired comparison, so hard windows do not count.
            gain = max(0.0, self.sign * (candidate_score - champion_score)) if promoted else 0.0
            gain_sum = self.forget * gain_sum + gain
            age_sum = self.forget * age_sum + max(state.windows, 1)
        bound = None
        if candidate_score is not None and math.isfinite(candidate_score):
            bound = candidate_score - self.sign * self.noise_z * candidate_std_error
        if promoted:
            reference = bound
            if (
                state.reference is not None
                and bound is not None
                and candidate_score is not None
                and self._fell_short(state, candidate_score, candidate_std_error)
            ):
                reference = max(bound * self.sign, state.reference * self.sign) * self.sign
            return PolicyState(
                champion_version=version,
                champion_rows=rows_train,
                reference=reference if reference is not None else state.reference,
                recent=state.recent,
                gain_sum=gain_sum,
                age_sum=age_sum,
            )
        reference, hold = state.reference, 0
        if champion_score is not None and math.isfinite(champion_score):
            held_to = champion_score - self.sign * self.noise_z * candidate_std_error
            changed = self._fell_short(state, champion_score, candidate_std_error)
            if changed and not state.held:
                # Both models fall short of what fresh models reached: the data changed
                # and the window still holds the old. Retry once it has turned over; a
                # second rejection means the stream got harder: then lower the bar.
                hold = max(1, int(self.hold_fraction * (self.window_rows or 0)))
            else:
                reference = held_to
        return state.model_copy(
            update={
                "reference": reference,
                "accumulated_loss": 0.0,
                "windows": 0,
                "gain_sum": gain_sum,
                "age_sum": age_sum,
                "hold_rows": hold,
                "hold_until_rows": 0,
                "held": hold > 0,
            }
        )

    def _fell_short(self, state: PolicyState, score: float, std_error: float) -> bool:
        """Whether a fresh score is below the reference by more than scores move by chance
        (the holdout's error, the spread between windows): the stream changed, or the
        reference was set by a lucky holdout; not just a hard week."""
        if state.reference is None or not math.isfinite(score):
            return False
        noise = max(std_error, window_spread(state.recent))
        return self.sign * (state.reference - score) > self.change_z * noise

    def on_window(
        self, state: PolicyState, window: WindowQuality, *, available_rows: int
    ) -> tuple[PolicyState, Decision]:
        """One more labelled window of the champion: account its loss; retrain or not."""
        if state.champion_version is not None and window.model_version != state.champion_version:
            return state, Decision(
                retrain=False,
                rule="ignored",
                reason=f"window of v{window.model_version}, champion is v{state.champion_version}",
                accumulated_loss=state.accumulated_loss,
                excess_loss=0.0,
            )
        if not math.isfinite(window.value):
            return state, Decision(
                retrain=False,
                rule="ignored",
                reason="metric undefined on this window",
                accumulated_loss=state.accumulated_loss,
                excess_loss=0.0,
            )
        if state.reference is None:
            state = state.model_copy(update={"reference": window.value})
        assert state.reference is not None
        recent = (*state.recent, window.value)[-self.spread_windows :]
        shortfall = self.sign * (state.reference - window.value)
        spread = window_spread(state.recent) if self.use_spread else 0.0
        allowance = self.noise_z * max(window.std_error, spread)
        if window.drifted:
            allowance /= 2
        excess = shortfall - allowance
        accumulated = max(0.0, state.accumulated_loss + excess)
        hold_until = state.hold_until_rows
        if state.hold_rows:  # the first window after a rejected run starts the hold
            hold_until = max(0, available_rows - window.rows) + state.hold_rows
        state = state.model_copy(
            update={
                "accumulated_loss": accumulated,
                "windows": state.windows + 1,
                "recent": recent,
                "hold_rows": 0,
                "hold_until_rows": hold_until,
            }
        )
        decision = self._decide(state, excess, available_rows)
        return state, decision

    def _can_grow(self, state: PolicyState, available_rows: int) -> bool:
        """A champion trained on under half a window, and a full window exists now."""
        if not self.window_rows or not state.champion_rows:
            return False
        return state.champion_rows < self.window_rows / 2 and available_rows >= self.window_rows

    def _decide(self, state: PolicyState, excess: float, available_rows: int) -> Decision:
        if self._can_grow(state, available_rows):
            return Decision(
                retrain=True,
                rule="growth",
                reason=(
                    f"growth: the champion trained on {state.champion_rows} rows; "
                    f"a full window of {self.window_rows} is available"
                ),
                accumulated_loss=state.accumulated_loss,
                excess_loss=excess,
            )
        if available_rows < state.hold_until_rows:
            return Decision(
                retrain=False,
                rule="wait",
                reason=(
                    f"a run was just rejected on a changed stream: waiting for "
                    f"{state.hold_until_rows - available_rows} more rows "
                    f"(accumulated loss {state.accumulated_loss:.4f})"
                ),
                accumulated_loss=state.accumulated_loss,
                excess_loss=excess,
            )
        rate = state.gain_sum / state.age_sum if state.age_sum else 0.0
        staleness = rate * state.windows * (state.windows + 1) / 2
        if self.use_staleness and staleness >= self.retrain_cost:
            return Decision(
                retrain=True,
                rule="staleness",
                reason=(
                    f"staleness: past runs gained {rate:.4f} per window of age; "
                    f"{state.windows} window(s) cost {staleness:.4f} >= {self.retrain_cost}"
                ),
                accumulated_loss=state.accumulated_loss,
                excess_loss=excess,
            )
        if state.accumulated_loss >= self.retrain_cost:
            return Decision(
                retrain=True,
                rule="loss",
                reason=(
                    f"accumulated loss {state.accumulated_loss:.4f} over {state.windows} "
                    f"window(s) reached the retrain cost {self.retrain_cost}"
                ),
                accumulated_loss=state.accumulated_loss,
                excess_loss=excess,
            )
        return Decision(
            retrain=False,
            rule="wait",
            reason=(
                f"accumulated loss {state.accumulated_loss:.4f} below the retrain cost "
                f"{self.retrain_cost}"
            ),
            accumulated_loss=state.accumulated_loss,
            excess_loss=excess,
        )
