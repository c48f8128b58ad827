"""Saving and loading models with skops: no pickle, an explicit allowlist, sha256 first."""

from __future__ import annotations

from typing import Final

import skops.io as sio
from sklearn.pipeline import Pipeline

from continuum.storage import verify

ALLOWLIST: Final[tuple[str, ...]] = (
    # Every fitted pipeline carries dtypes (ColumnTransformer, encoders).
    "numpy.dtype",
    # RandomForestClassifier / RandomForestRegressor trees.
    "sklearn.tree._tree.Tree",
    # HistGradientBoostingClassifier / HistGradientBoostingRegressor trees.
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # HistGradientBoosting* with native categoricals keep an inner ColumnTransformer whose
    # numeric part is FunctionTransformer(partial(check_array, ...)). skops checks a
    # partial's function on its own, so trusting partial does not trust what it wraps.
    "functools.partial",
    "sklearn.utils.validation.check_array",
)
"""Types skops does not trust by default that a Continuum pipeline legitimately holds.

Checked with ``skops.io.get_untrusted_types`` on a fitted pipeline of every estimator in
``continuum.contracts.ESTIMATORS`` (the modelkit tests check it again). Anything else in
an artifact (a custom class, an arbitrary function) is refused.
"""


class UntrustedModelError(Exception):
    """The artifact holds types outside :data:`ALLOWLIST`; it is not loaded."""

    def __init__(self, types: list[str]) -> None:
        super().__init__(f"model artifact holds untrusted types: {', '.join(types)}")
        self.types = types


def dump_model(pipeline: Pipeline) -> bytes:
    """The skops bytes of a fitted pipeline."""
    data: bytes = sio.dumps(pipeline)
    return data


def untrusted_types(data: bytes) -> list[str]:
    """The types in ``data`` that skops does not trust and :data:`ALLOWLIST` does not name."""
    return sorted(set(sio.get_untrusted_types(data=data)) - set(ALLOWLIST))


def load_model(data: bytes, *, expected_sha256: str) -> Pipeline:
    """Load a pipeline: check the sha256, refuse unknown types, then let skops build it.

    Raises ``continuum.storage.IntegrityError`` for tampered bytes and
    :class:`UntrustedModelError` for types outside the allowlist.
    """
    # An exported bundle's predict.py (continuum.cli.bundle) repeats these steps with
    # ALLOWLIST as written into it at export: change them there too.
    verify(data, expected_sha256, "model artifact")
    refused = untrusted_types(data)
    if refused:
        raise UntrustedModelError(refused)
    model = sio.loads(data, trusted=list(ALLOWLIST))
    if not isinstance(model, Pipeline):
        raise UntrustedModelError([f"{type(model).__module__}.{type(model).__qualname__}"])
    return model
