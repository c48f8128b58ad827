"""Score a CSV or Parquet file with the model of this bundle; ``--check`` verifies the bundle.

This file is written verbatim into every bundle ``continuum export`` makes, so it imports
only the standard library and the packages pinned in ``requirements.txt``, never
Continuum. It loads the model the way Continuum's serving does
(``continuum.modelkit.serialization``): sha256 first, then every type skops does not trust
must be on the allowlist the exporter copied into ``bundle.json``, and only then does skops
build the pipeline. Inputs are typed as ``continuum.modelkit.coerce_features`` types them,
so the predictions are serving's for the same rows.

    python predict.py INPUT.csv OUTPUT.csv [--keep ID_COLUMN ...]
    python predict.py --check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
PREDICTION_COLUMN = "prediction"
PROBABILITY_PREFIX = "proba_"
PROBABILITY_TOLERANCE = 1e-9
"""How far ``--check`` lets a probability move: exact on the exporting machine, but
another CPU's SIMD paths may round the last bit differently."""


class BundleError(Exception):
    """The bundle is damaged or refuses to load; the message names the file."""


@dataclass(frozen=True)
class Bundle:
    """The loaded model with what ``bundle.json`` says about it."""

    pipeline: Pipeline
    info: dict[str, Any]

    @property
    def features(self) -> list[dict[str, str]]:
        """The spec's features in order, each ``{"name": ..., "type": ...}``."""
        return list(self.info["features"])


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify_files(root: Path = HERE) -> None:
    """Check every file ``manifest.json`` lists against its sha256; raise on the first."""
    try:
        files = json.loads((root / MANIFEST).read_text())["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise BundleError(f"{MANIFEST}: unreadable ({exc})") from None
    for name, expected in sorted(files.items()):
        path = root / name
        if not path.is_file():
            raise BundleError(f"{name}: missing (listed in {MANIFEST})")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(f"{name}: sha256 is {actual}, {MANIFEST} says {expected}")


def load_bundle(root: Path = HERE) -> Bundle:
    """The model, loaded as serving loads it: sha256, then the allowlist, then skops."""
    info = json.loads((root / "bundle.json").read_text())
    data = (root / info["model_file"]).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != info["model_sha256"]:
        raise BundleError(f"{info['model_file']}: sha256 is {actual}, expected the registry's")
    allowlist = list(info["allowlist"])
    refused = sorted(set(sio.get_untrusted_types(data=data)) - set(allowlist))
    if refused:
        raise BundleError(f"{info['model_file']}: untrusted types {', '.join(refused)}")
    model = sio.loads(data, trusted=allowlist)
    if not isinstance(model, Pipeline):
        raise BundleError(f"{info['model_file']}: holds {type(model).__name__}, not a Pipeline")
    return Bundle(pipeline=model, info=info)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _category(value: Any) -> Any:
    if _is_missing(value):
        return np.nan
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def coerce_features(features: list[dict[str, str]], frame: pd.DataFrame) -> pd.DataFrame:
    """The feature columns in spec order, typed like ``continuum.modelkit.coerce_features``:
    categorical -> str (missing stays NaN), numeric -> float (absent or unparseable -> NaN).
    """
    out: dict[str, Any] = {}
    for feature in features:
        name = feature["name"]
        column = frame[name] if name in frame.columns else None
        if feature["type"] == "categorical":
            values = column.tolist() if column is not None else [None] * len(frame)
            out[name] = pd.Series([_category(v) for v in values], index=frame.index, dtype=object)
        elif column is None:
            out[name] = pd.Series(np.nan, index=frame.index, dtype=float)
        else:
            out[name] = pd.to_numeric(column, errors="coerce").astype(float)
    return pd.DataFrame(out, index=frame.index)


def read_input(path: Path, features: list[dict[str, str]]) -> pd.DataFrame:
    """A CSV (empty field = missing) or Parquet file as a frame."""
    if path.suffix.lower() in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    categorical: Mapping[Hashable, type[str]] = {
        f["name"]: str for f in features if f["type"] == "categorical"
    }
    # Categories stay text ("01" is not 1); only an empty field is missing, so a category
    # named "NA" survives; round_trip parses floats exactly as Python (and serving's JSON) do.
    return pd.read_csv(
        path,
        dtype=categorical,
        keep_default_na=False,
        na_values=[""],
        float_precision="round_trip",
    )


def _plain(values: Any) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in list(values)]


def score(bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    """``prediction`` per row and, for classifiers, ``proba_<class>`` per class."""
    features = coerce_features(bundle.features, frame)
    pipeline = bundle.pipeline
    if bundle.info["task"] == "regression" or not hasattr(pipeline, "predict_proba"):
        return pd.DataFrame({PREDICTION_COLUMN: _plain(pipeline.predict(features))})
    # As serving: the label is the most probable class of the same predict_proba call.
    proba = pipeline.predict_proba(features)
    classes = pipeline.classes_
    out = pd.DataFrame({PREDICTION_COLUMN: _plain(classes[proba.argmax(axis=1)])})
    for i, name in enumerate(str(c) for c in _plain(classes)):
        out[f"{PROBABILITY_PREFIX}{name}"] = proba[:, i].astype(float)
    return out


def write_output(frame: pd.DataFrame, path: Path) -> None:
    """CSV, or Parquet for a ``.parquet`` path."""
    if path.suffix.lower() in {".parquet", ".pq"}:
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def _first_difference(got: pd.DataFrame, expected: pd.DataFrame) -> str | None:
    if list(got.columns) != list(expected.columns) or len(got) != len(expected):
        return f"columns/rows {list(got.columns)}x{len(got)} vs {list(expected.columns)}"
    for column in got.columns:
        a, b = got[column].to_numpy(), expected[column].to_numpy()
        if column.startswith(PROBABILITY_PREFIX):
            bad = ~np.isclose(a.astype(float), b.astype(float), rtol=0, atol=PROBABILITY_TOLERANCE)
        else:
            bad = a != b
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            return f"{int(bad.sum())} rows differ in {column} (row {row}: {a[row]!r} vs {b[row]!r})"
    return None


def check(root: Path = HERE) -> str:
    """Verify every checksum, then score the reference sample and compare with the
    predictions stored at export; returns a one-line summary, raises :class:`BundleError`."""
    verify_files(root)
    bundle = load_bundle(root)
    sample = pd.read_parquet(root / bundle.info["reference_sample_file"])
    expected = pd.read_parquet(root / bundle.info["reference_predictions_file"])
    problem = _first_difference(score(bundle, sample), expected)
    if problem:
        raise BundleError(f"{bundle.info['reference_predictions_file']}: {problem}")
    return (
        f"{bundle.info['pipeline']} v{bundle.info['version']}: checksums ok, "
        f"{len(sample)} reference rows scored as at export"
    )


def main(argv: list[str] | None = None, root: Path = HERE) -> int:
    """The command line (see the module docstring), for the bundle in ``root``."""
    parser = argparse.ArgumentParser(description="Score a file with this bundle's model.")
    parser.add_argument("input", nargs="?", type=Path, help="CSV or Parquet rows to score")
    parser.add_argument("output", nargs="?", type=Path, help="where to write (CSV or Parquet)")
    parser.add_argument("--keep", action="append", default=[], help="input column to copy")
    parser.add_argument("--check", action="store_true", help="verify the bundle and exit")
    args = parser.parse_args(argv)
    try:
        if args.check:
            print(check(root))
            return 0
        if args.input is None or args.output is None:
            parser.error("INPUT and OUTPUT are required (or --check)")
        verify_files(root)
        bundle = load_bundle(root)
        frame = read_input(args.input, bundle.features)
        missing = [c for c in args.keep if c not in frame.columns]
        if missing:
            raise BundleError(f"{args.input}: no column(s) {missing} to keep")
        result = score(bundle, frame)
        for position, column in enumerate(args.keep):
            result.insert(position, column, frame[column].to_numpy())
        write_output(result, args.output)
    except BundleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(result)} rows scored -> {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
