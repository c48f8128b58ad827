"""The cost-aware retraining rule: what it buys a run for, and what it refuses to."""

from __future__ import annotations

import pytest

from continuum.modelkit.policy_state import PolicyState, WindowQuality
from continuum.modelkit.retrain_policy import CostAwarePolicy


def _policy(**options: float) -> CostAwarePolicy:
    return CostAwarePolicy(higher_is_better=True, retrain_cost=0.1, window_rows=None, **options)


def _deployed(policy: CostAwarePolicy, score: float = 0.80, version: int = 1) -> PolicyState:
    return policy.on_trained(
        PolicyState(),
        candidate_score=score,
        candidate_std_error=0.0,
        champion_score=None,
        promoted=True,
        version=version,
        rows_train=8000,
    )


def _window(value: float, *, se: float = 0.01, version: int = 1, drifted: bool = False):
    return WindowQuality(
        model_version=version, value=value, std_error=se, rows=2000, drifted=drifted
    )


def _feed(policy: CostAwarePolicy, state: PolicyState, values: list[float], **kw: object):
    decisions = []
    for value in values:
        state, decision = policy.on_window(state, _window(value, **kw), available_rows=10_000)  # type: ignore[arg-type]
        decisions.append(decision)
    return state, decisions


def test_windows_at_the_reference_with_noise_never_buy_a_run() -> None:
    policy = _policy()
    noisy = [0.80 + d for d in [0.008, -0.007, 0.004, -0.009, 0.0, 0.006, -0.005] * 8]
    _, decisions = _feed(policy, _deployed(policy), noisy)
    assert not any(d.retrain for d in decisions)


def test_a_sustained_drop_buys_a_run_once_its_loss_reaches_the_cost() -> None:
    policy = _policy()
    _, decisions = _feed(policy, _deployed(policy), [0.80] * 5 + [0.74] * 10)
    first = next(i for i, d in enumerate(decisions) if d.retrain)
    # 0.06 below the reference, less a 0.75 * 0.01 noise allowance: the second window pays.
    assert first == 6
    assert "reached the retrain cost" in decisions[first].reason
    assert decisions[first].accumulated_loss >= 0.1


def test_input_drift_makes_the_policy_listen_harder_but_never_triggers_alone() -> None:
    policy = _policy()
    _, quiet = _feed(policy, _deployed(policy), [0.80] * 20, drifted=True)
    assert not any(d.retrain for d in quiet)
    slow = [0.785] * 20
    _, plain = _feed(policy, _deployed(policy), slow)
    _, drifted = _feed(policy, _deployed(policy), slow, drifted=True)
    first_plain = next((i for i, d in enumerate(plain) if d.retrain), 99)
    first_drifted = next(i for i, d in enumerate(drifted) if d.retrain)
    assert first_drifted < first_plain


def test_hard_windows_that_swing_widely_are_not_loss() -> None:
    # Every model does worse on a stormy week: the spread between windows is the allowance.
    policy = _policy()
    swings = [0.80, 0.70, 0.85, 0.74, 0.82, 0.71, 0.84, 0.76, 0.80, 0.72] * 3
    _, decisions = _feed(policy, _deployed(policy, 0.78), swings, se=0.01)
    assert sum(d.retrain for d in decisions) <= 1


def _rejected(policy: CostAwarePolicy, state: PolicyState, champion: float) -> PolicyState:
    return policy.on_trained(
        state,
        candidate_score=champion - 0.002,
        candidate_std_error=0.0,
        champion_score=champion,
        promoted=False,
        version=1,
        rows_train=8000,
    )


def test_a_rejected_run_whose_champion_holds_up_sets_the_bar_there() -> None:
    # The champion reaches the reference on the newest data: the windows were just hard.
    policy = _policy()
    state = policy.on_trained(
        PolicyState(),
        candidate_score=0.80,
        candidate_std_error=0.02,
        champion_score=None,
        promoted=True,
        version=1,
        rows_train=8000,
    )  # reference 0.80 - 0.75 * 0.02 = 0.785
    state, _ = _feed(policy, state, [0.76] * 3)
    state = _rejected(policy, state, champion=0.79)
    assert state.accumulated_loss == 0 and state.windows == 0
    assert state.reference == pytest.approx(0.79)
    assert not state.held
    _, decisions = _feed(policy, state, [0.79] * 20)
    assert not any(d.retrain for d in decisions)


def test_a_rejected_run_on_a_changed_stream_is_retried_once_the_window_turned_over() -> None:
    # Champion and candidate both fall short of the reference: the concept changed and
    # the candidate's window was still mostly old data. Hold the bar; retry later.
    policy = CostAwarePolicy(higher_is_better=True, retrain_cost=0.1, window_rows=8000)
    state, _ = _feed(policy, _deployed(policy), [0.60] * 2)
    state = _rejected(policy, state, champion=0.61)
    assert state.reference == pytest.approx(0.80) and state.held
    rows, decisions = 10_000, []
    for _ in range(6):
        rows += 2000
        state, decision = policy.on_window(state, _window(0.60), available_rows=rows)
        decisions.append(decision)
    first = next(i for i, d in enumerate(decisions) if d.retrain)
    # Half the 8000-row window (4000 rows, two windows) must arrive after the run.
    assert first == 1, [d.reason for d in decisions]
    assert "waiting for" in decisions[0].reason
    # Rejected again: the stream got harder, not different. Now the bar drops.
    state = _rejected(policy, state, champion=0.61)
    assert state.reference == pytest.approx(0.61) and not state.held
    _, after = _feed(policy, state, [0.60] * 20)
    assert not any(d.retrain for d in after)


def _promoted(policy: CostAwarePolicy, state: PolicyState, score: float) -> PolicyState:
    return policy.on_trained(
        state,
        candidate_score=score,
        candidate_std_error=0.01,
        champion_score=score - 0.05,
        promoted=True,
        version=2,
        rows_train=8000,
    )


def test_a_promotion_resets_a_lucky_reference_but_not_after_a_change() -> None:
    # The first model's small holdout scored 0.86 by luck; a fresh model reaches 0.85.
    policy = _policy()
    lucky = _deployed(policy, 0.86)
    state = _promoted(policy, lucky, 0.85)
    assert state.reference == pytest.approx(0.85 - 0.75 * 0.01)
    _, decisions = _feed(policy, state, [0.845, 0.85, 0.84, 0.85] * 5)
    assert not any(d.retrain for d in decisions)
    # Far below the reference (a candidate trained just after the concept changed, its
    # window mostly old data): the reference stays, so later windows still count as loss.
    state = _promoted(policy, lucky, 0.55)
    assert state.reference == pytest.approx(0.86)


def test_runs_that_measured_a_gain_teach_a_staleness_rate() -> None:
    policy = _policy()
    state = _deployed(policy)
    state, _ = _feed(policy, state, [0.80] * 4)
    # The next run found a fresh model 0.02 better after 4 windows: 0.005 per window of age.
    state = policy.on_trained(
        state,
        candidate_score=0.80,
        candidate_std_error=0.0,
        champion_score=0.78,
        promoted=True,
        version=2,
        rows_train=8000,
    )
    assert state.gain_sum / state.age_sum == pytest.approx(0.005)
    _, decisions = _feed(policy, state, [0.80] * 10, version=2)
    first = next(i for i, d in enumerate(decisions) if d.retrain)
    # rate * k(k+1)/2 >= 0.1 first at k = 6 windows.
    assert first == 5
    assert decisions[first].reason.startswith("staleness")


def test_growth_retrains_a_champion_trained_on_a_small_first_window_once() -> None:
    policy = CostAwarePolicy(higher_is_better=True, retrain_cost=0.1, window_rows=10_000)
    state = policy.on_trained(
        PolicyState(),
        candidate_score=0.8,
        champion_score=None,
        promoted=True,
        version=1,
        rows_train=1600,
    )
    state, early = policy.on_window(state, _window(0.8), available_rows=6_000)
    state, full = policy.on_window(state, _window(0.8), available_rows=10_000)
    assert not early.retrain
    assert full.retrain and full.reason.startswith("growth")


def test_lower_is_better_metrics_account_the_other_way() -> None:
    policy = CostAwarePolicy(higher_is_better=False, retrain_cost=0.1, window_rows=None)
    state = _deployed(policy, score=1.0)
    _, better = _feed(policy, state, [0.9] * 20)
    _, worse = _feed(policy, state, [1.1] * 5)
    assert not any(d.retrain for d in better)
    assert any(d.retrain for d in worse)


def test_windows_of_another_version_are_ignored_and_state_round_trips_as_json() -> None:
    policy = _policy()
    state = _deployed(policy)
    after, decision = policy.on_window(state, _window(0.1, version=7), available_rows=10_000)
    assert after == state and not decision.retrain
    state, _ = _feed(policy, state, [0.77, 0.78])
    assert PolicyState.model_validate_json(state.model_dump_json()) == state
