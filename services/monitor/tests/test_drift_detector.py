"""The Evidently-backed detector on synthetic data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from monitor_testkit import CATEGORICAL, NUMERIC, make_spec, reference_frame, traffic

from continuum.monitor.drift import DriftDetector
from continuum.monitor.frames import PREDICTION_COLUMN, FeatureLayout


def _frames(shift: float) -> tuple[FeatureLayout, pd.DataFrame, pd.DataFrame]:
    layout = FeatureLayout.of(make_spec())
    window = traffic(1000, shift=shift, seed=7)
    current = layout.window_frame(
        window[[*NUMERIC, *CATEGORICAL]].to_dict(orient="records"), window["prediction"].tolist()
    )
    return layout, current, layout.reference_frame(reference_frame())


def test_same_distribution_does_not_drift() -> None:
    layout, current, reference = _frames(shift=0.0)

    report = DriftDetector().detect(layout, current, reference)

    assert [c.column for c in report.columns] == [*NUMERIC, *CATEGORICAL]
    assert report.drifted_columns == ()
    assert report.drift_share == 0.0
    assert report.prediction is not None
    assert report.prediction.column == PREDICTION_COLUMN
    assert not report.prediction.drifted
    # A 5,000-row reference: Evidently picks distances (higher = more drift) at 0.1.
    by_name = {c.column: c for c in report.columns}
    assert by_name["n0"].method.startswith("Wasserstein")
    assert by_name["carrier"].method.startswith("Jensen-Shannon")
    assert all(c.threshold == 0.1 and c.score < c.threshold for c in report.columns)


def test_shifted_columns_are_flagged_and_only_they() -> None:
    layout, current, reference = _frames(shift=1.0)

    report = DriftDetector().detect(layout, current, reference)

    assert set(report.drifted_columns) == {"n0", "n1", "n2", "n3", "carrier"}
    assert report.drift_share == 0.5
    assert report.prediction is not None and report.prediction.drifted
    by_name = {c.column: c for c in report.columns}
    assert by_name["n0"].score > by_name["n0"].threshold
    assert by_name["n5"].score < by_name["n5"].threshold


def test_small_reference_uses_p_value_tests() -> None:
    layout = FeatureLayout.of(make_spec())
    window = traffic(300, shift=1.0, seed=3)
    current = layout.window_frame(
        window[[*NUMERIC, *CATEGORICAL]].to_dict(orient="records"), window["prediction"].tolist()
    )
    reference = layout.reference_frame(reference_frame(n=500))

    report = DriftDetector().detect(layout, current, reference)

    by_name = {c.column: c for c in report.columns}
    assert by_name["n0"].method == "K-S p_value"
    assert by_name["n0"].drifted and by_name["n0"].score < 0.05
    assert not by_name["n6"].drifted


def test_empty_or_missing_columns_are_skipped_not_fatal() -> None:
    layout, current, reference = _frames(shift=0.0)
    current["n7"] = np.nan
    reference = reference.drop(columns=["origin"])

    report = DriftDetector().detect(layout, current, reference)

    assert set(report.skipped) == {"n7", "origin"}
    assert len(report.columns) == 8


def test_regression_prediction_is_numeric() -> None:
    layout = FeatureLayout.of(make_spec(task="regression"))
    window = traffic(1000, seed=5)
    reference = reference_frame()
    reference["prediction"] = reference["n0"] * 2.0
    current = layout.window_frame(
        window[[*NUMERIC, *CATEGORICAL]].to_dict(orient="records"),
        (window["n0"] * 2.0 + 3.0).tolist(),
    )

    report = DriftDetector().detect(layout, current, layout.reference_frame(reference))

    assert report.prediction is not None
    assert report.prediction.method.startswith("Wasserstein")
    assert report.prediction.drifted
    assert report.drift_share == 0.0


def test_the_monitoring_policy_chooses_methods_and_the_column_threshold() -> None:
    from dataclasses import replace

    layout, current, reference = _frames(shift=1.0)
    eager = DriftDetector().detect(layout, current, reference)
    assert "n0" in eager.drifted_columns

    # PSI on numbers, chi-square on categories, and a distance threshold no shift of 1 sd
    # reaches: the same window no longer counts as drift on the numeric columns.
    relaxed = replace(
        layout, numeric_method="psi", categorical_method="chisquare", column_threshold=50.0
    )
    report = DriftDetector().detect(relaxed, current, reference)
    by_name = {c.column: c for c in report.columns}
    assert by_name["n0"].method.startswith("PSI")
    assert by_name["carrier"].method.lower().startswith("chi")
    assert by_name["n0"].threshold == 50.0
    assert not by_name["n0"].drifted
