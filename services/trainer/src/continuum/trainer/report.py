"""The error-analysis report of a run: one self-contained HTML page stored with the model.

Our own header comes first: the run, both models' holdout metrics and the slice table
(flagged slices highlighted). Below it, Evidently's presets on the holdout (current)
against the training rows (reference): data summary, classification or regression
quality (both sides scored by the candidate, so train vs holdout shows overfitting), and
drift of every feature. Both sides are seeded samples of at most ``max_rows`` rows,
which bounds the run time (~1-2 s at 2,000 rows; Evidently's import takes seconds more,
paid by :func:`import_evidently` when the worker starts).
"""

from __future__ import annotations

import html
import warnings
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from continuum.contracts import HIGHER_IS_BETTER, PipelineSpec
from continuum.modelkit import (
    ModelCard,
    SliceEvaluation,
    feature_columns,
    input_kinds,
    model_outputs,
)

TARGET_COLUMN = "target (label)"
PREDICTION_COLUMN = "prediction (model)"
"""Names no feature can have (spec column names have no spaces)."""


def import_evidently() -> None:
    """Import Evidently now (seconds) so a run does not pay for it."""
    _evidently()


def _evidently() -> Any:
    with warnings.catch_warnings():
        # Evidently's own imports raise deprecation warnings that say nothing to us.
        warnings.simplefilter("ignore", DeprecationWarning)
        import evidently
        import evidently.presets

    return evidently


def _sample(frame: pd.DataFrame, y: pd.Series, max_rows: int) -> tuple[pd.DataFrame, pd.Series]:
    if len(frame) <= max_rows:
        return frame, y
    rows = frame.sample(n=max_rows, random_state=0).index
    return frame.loc[rows], y.loc[rows]


def _scored(
    spec: PipelineSpec, pipeline: Pipeline, frame: pd.DataFrame, y: pd.Series
) -> pd.DataFrame:
    """Feature columns, the label and the model's prediction (P(positive) for classifiers)."""
    inputs = feature_columns(spec, frame).reset_index(drop=True)
    outputs = model_outputs(pipeline, inputs, spec.task)
    out = inputs.copy()
    out[TARGET_COLUMN] = y.to_numpy()
    if outputs.proba is not None:
        out[PREDICTION_COLUMN] = outputs.proba[:, 1]
    else:
        out[PREDICTION_COLUMN] = outputs.predicted
    return out


def _evidently_html(
    spec: PipelineSpec, pipeline: Pipeline, reference: pd.DataFrame, current: pd.DataFrame
) -> str:
    ev = _evidently()
    # Model inputs: schema features, then any view features joined for training.
    kinds = input_kinds(spec)
    numeric = [name for name, kind in kinds.items() if kind == "numeric"]
    categorical = [name for name, kind in kinds.items() if kind == "categorical"]
    if spec.task == "regression":
        task_part: dict[str, Any] = {
            "regression": [ev.Regression(target=TARGET_COLUMN, prediction=PREDICTION_COLUMN)]
        }
        quality = ev.presets.RegressionPreset()
        numeric = [*numeric, TARGET_COLUMN, PREDICTION_COLUMN]
    else:
        positive = list(pipeline.classes_)[1]
        task_part = {
            "classification": [
                ev.BinaryClassification(
                    target=TARGET_COLUMN, prediction_probas=PREDICTION_COLUMN, pos_label=positive
                )
            ]
        }
        quality = ev.presets.ClassificationPreset()
        numeric = [*numeric, PREDICTION_COLUMN]
        categorical = [*categorical, TARGET_COLUMN]
    definition = ev.DataDefinition(
        numerical_columns=numeric, categorical_columns=categorical, **task_part
    )
    features = list(kinds)
    report = ev.Report(
        [ev.presets.DataSummaryPreset(), quality, ev.presets.DataDriftPreset(columns=features)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas/scipy chatter on small or constant columns
        snapshot = report.run(
            ev.Dataset.from_pandas(current, data_definition=definition),
            ev.Dataset.from_pandas(reference, data_definition=definition),
        )
    text: str = snapshot.get_html_str(as_iframe=False)
    return text


def build_report(
    spec: PipelineSpec,
    card: ModelCard,
    pipeline: Pipeline,
    train: tuple[pd.DataFrame, pd.Series],
    holdout: tuple[pd.DataFrame, pd.Series],
    max_rows: int,
) -> bytes:
    """The report's HTML (UTF-8): our header and slice table, then Evidently's presets."""
    reference = _scored(spec, pipeline, *_sample(*train, max_rows))
    current = _scored(spec, pipeline, *_sample(*holdout, max_rows))
    body = _evidently_html(spec, pipeline, reference, current)
    header = header_html(card, rows=(len(reference), len(current)))
    # Ahead of Evidently's root element, so it reads first and needs none of its script.
    marker = "<body>"
    at = body.find(marker)
    if at < 0:
        return (header + body).encode()
    at += len(marker)
    return (body[:at] + header + body[at:]).encode()


_STYLE = """
<style>
.cn-report{font-family:system-ui,sans-serif;margin:24px;color:#222}
.cn-report table{border-collapse:collapse;margin:8px 0 20px}
.cn-report th,.cn-report td{border:1px solid #ccc;padding:4px 10px;text-align:right}
.cn-report th:first-child,.cn-report td:first-child{text-align:left}
.cn-report tr.flagged td{background:#fde2e1}
.cn-report .note{color:#555;font-size:90%}
</style>
"""


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _metrics_table(card: ModelCard) -> str:
    names = sorted(set(card.metrics) | set(card.champion_metrics))
    champion = f"champion v{card.champion_version}" if card.champion_version else "champion"
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{_num(card.metrics.get(n))}</td>"
        f"<td>{_num(card.champion_metrics.get(n))}</td></tr>"
        for n in names
    )
    return f"<table><tr><th>metric</th><th>candidate</th><th>{champion}</th></tr>{rows}</table>"


def slice_table(slices: SliceEvaluation) -> str:
    """The slice table: rows, both models' metric, the gap, flags; flagged rows marked."""
    metric = html.escape(slices.metric)
    direction = "higher" if HIGHER_IS_BETTER[slices.metric] else "lower"
    rows = []
    for item in slices.slices:
        gap = slices.regression(item)
        mine, theirs = item.metrics.get(slices.metric), item.champion_metrics.get(slices.metric)
        # Signed like the metric's gain; rounded first so a tie never prints as -0.0000.
        versus = "" if gap is None else f"{round(-gap, 4) + 0.0:+.4f}"
        rows.append(
            f"<tr class='{'flagged' if item.flags else ''}'>"
            f"<td>{html.escape(item.name)}</td><td>{item.rows}</td><td>{_num(mine)}</td>"
            f"<td>{_num(theirs)}</td><td>{versus}</td>"
            f"<td>{html.escape(', '.join(item.flags))}</td></tr>"
        )
    return (
        f"<p class='note'>{metric} per slice ({direction} is better) on {slices.rows} holdout "
        f"rows: each categorical value and {slices.bins} quantile bins per numeric, slices of "
        f"at least {slices.min_rows} rows. Flagged: worse than the champion or than the "
        f"candidate's own overall {metric} by more than {slices.threshold:g}.</p>"
        f"<table><tr><th>slice</th><th>rows</th><th>candidate {metric}</th>"
        f"<th>champion {metric}</th><th>vs champion</th><th>flags</th></tr>"
        f"{''.join(rows)}</table>"
    )


def header_html(card: ModelCard, rows: tuple[int, int]) -> str:
    """The report's own part: the run, its metrics and its slices."""
    title = f"{card.pipeline}: run {card.run_id}"
    flagged = len(card.slices.flagged) if card.slices else 0
    slices = (
        slice_table(card.slices)
        if card.slices
        else "<p class='note'>No slice table for this run.</p>"
    )
    return (
        f"{_STYLE}<section class='cn-report'>"
        f"<h1>Model report — {html.escape(title)}</h1>"
        f"<p class='note'>{html.escape(card.estimator)} on spec v{card.spec_version}, "
        f"{card.rows_train} training rows, {card.rows_holdout} holdout rows; "
        f"{flagged} flagged slice(s). Evidently's sections below compare {rows[1]} holdout "
        f"rows (current) with {rows[0]} training rows (reference).</p>"
        f"<h2>Holdout metrics</h2>{_metrics_table(card)}"
        f"<h2>Slices</h2>{slices}</section>"
    )
