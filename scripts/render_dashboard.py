"""Plot a Grafana dashboard's panels from Prometheus's query API into one PNG.

Not a project dependency: matplotlib comes from a throwaway environment, e.g.

    uv run --with matplotlib python scripts/render_dashboard.py \
        --prometheus http://127.0.0.1:9090 --window <tmp>/loop0/prometheus/loop-window.json \
        --out docs/overview-dashboard.png

``--window`` is the ``loop-window.json`` the end-to-end test writes next to Prometheus's
TSDB (start and end of the loop); without it, the last ``--minutes`` are plotted. Each
panel's targets are run as range queries (Grafana variables: all pipelines, a 15s rate
window) and drawn with the panel's legend format, so the picture shows what the
dashboard would show.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "continuum-overview.json"
VARIABLES = {"$pipeline": ".*", "$__rate_interval": "15s"}
_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every non-row panel, in layout order."""
    found = []
    for panel in dashboard["panels"]:
        found.extend(panel.get("panels", []) if panel["type"] == "row" else [panel])
    return sorted(found, key=lambda p: (p["gridPos"]["y"], p["gridPos"]["x"]))


def range_query(
    client: httpx.Client, expr: str, start: float, end: float, step: float
) -> list[dict[str, Any]]:
    """The series of ``expr`` between ``start`` and ``end`` (raises on an API error)."""
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    response = client.get(
        "/api/v1/query_range",
        params={"query": expr, "start": start, "end": end, "step": step},
    )
    response.raise_for_status()
    body = response.json()
    if body["status"] != "success":
        raise RuntimeError(f"{expr}: {body.get('error')}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's ``{{label}}`` legend format."""
    text = _LEGEND.sub(lambda m: labels.get(m.group(1), ""), template or "")
    return text.strip() or json.dumps(labels)


def render(
    prometheus: str, dashboard_path: Path, out: Path, start: float, end: float, columns: int
) -> int:
    """Draw every panel; returns how many series were plotted."""
    try:
        import matplotlib  # optional: only this script needs it

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("matplotlib is not installed: uv run --with matplotlib python " + sys.argv[0])

    dashboard = json.loads(dashboard_path.read_text())
    chosen = panels(dashboard)
    rows = math.ceil(len(chosen) / columns)
    step = max(1.0, (end - start) / 400)
    figure, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 3.3 * rows), squeeze=False)
    plotted = 0
    with httpx.Client(base_url=prometheus, timeout=30) as client:
        for axis, panel in zip(axes.flat, chosen, strict=False):
            for target in panel["targets"]:
                for series in range_query(client, target["expr"], start, end, step):
                    points = [
                        (datetime.fromtimestamp(float(t), UTC), float(v))
                        for t, v in series["values"]
                    ]
                    if not points:
                        continue
                    times, values = zip(*points, strict=True)
                    style = "steps-post" if panel["type"] == "stat" else "default"
                    label = legend(target.get("legendFormat", ""), series["metric"])
                    axis.plot(times, values, label=label, linewidth=1.4, drawstyle=style)
                    plotted += 1
            unit = panel["fieldConfig"]["defaults"].get("unit", "short")
            axis.set_title(panel["title"], fontsize=10, loc="left")
            if unit != "short":
                axis.set_ylabel(unit, fontsize=8)
            axis.set_xlim(datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
            axis.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
            axis.tick_params(labelsize=7)
            axis.grid(alpha=0.3)
            if axis.lines:
                axis.legend(fontsize=6, loc="upper left", ncol=2, framealpha=0.6)
            else:
                axis.text(0.5, 0.5, "no data", ha="center", transform=axis.transAxes)
    for axis in list(axes.flat)[len(chosen) :]:
        axis.set_visible(False)
    when = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    figure.suptitle(
        f"{dashboard['title']}: {when}, {end - start:.0f}s (data from Prometheus query_range)",
        fontsize=14,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.985))
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=80)
    return plotted


def main() -> None:
    """Parse arguments and render."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL")
    parser.add_argument("--dashboard", type=Path, default=DEFAULT_DASHBOARD)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "overview-dashboard.png")
    parser.add_argument("--window", type=Path, help="loop-window.json (start/end of the loop)")
    parser.add_argument("--minutes", type=float, default=10.0, help="without --window")
    parser.add_argument("--columns", type=int, default=3)
    args = parser.parse_args()
    if args.window:
        window = json.loads(args.window.read_text())
        start, end = float(window["start"]), float(window["end"]) + 5
    else:
        end = time.time()
        start = end - args.minutes * 60
    count = render(args.prometheus, args.dashboard, args.out, start, end, args.columns)
    print(f"{args.out}: {count} series")


if __name__ == "__main__":
    main()
