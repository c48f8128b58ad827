"""Reading a model version's reference sample: Parquet in the artifact store, sha256-checked."""

from __future__ import annotations

import io

import pandas as pd

from continuum.contracts import StoredObject
from continuum.storage import ObjectStore, get_verified


def read_reference(store: ObjectStore, sample: StoredObject) -> pd.DataFrame:
    """The verified reference sample (feature columns plus ``prediction``).

    Raises :class:`continuum.storage.IntegrityError` when the bytes do not match the sha256
    the event or registry named, and ``ObjectNotFoundError`` when they are gone. Blocking:
    call it in a worker thread.
    """
    return pd.read_parquet(io.BytesIO(get_verified(store, sample)))
