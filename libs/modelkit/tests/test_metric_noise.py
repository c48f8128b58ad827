"""Standard errors of a metric on a finite sample (trainer holdouts, monitor windows)."""

from __future__ import annotations

import math

import pytest

from continuum.modelkit.metric_noise import auc_std_error


def test_auc_std_error_matches_hanley_mcneil() -> None:
    # AUC 0.8 with 50 positives and 50 negatives: SE ~ 0.0445 (Hanley & McNeil, 1982).
    assert auc_std_error(0.8, 50, 50) == pytest.approx(0.0445, abs=5e-4)
    assert auc_std_error(1.0, 50, 50) == 0.0


def test_auc_std_error_shrinks_with_the_smaller_class() -> None:
    # The same 200 rows: an unbalanced holdout gives a wider error than a balanced one.
    assert auc_std_error(0.8, 20, 180) > auc_std_error(0.8, 100, 100)


def test_auc_std_error_without_both_classes_or_a_value_is_zero() -> None:
    assert auc_std_error(0.8, 0, 100) == 0.0
    assert auc_std_error(0.8, 100, 0) == 0.0
    assert auc_std_error(math.nan, 50, 50) == 0.0
