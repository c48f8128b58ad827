"""Parsing Maven's download lines."""

import io

from rich.console import Console

from continuum.localkafka.maven_progress import (
    DownloadTracker,
    ProgressReporter,
    parse_maven_line,
    parse_size,
)

BASE = "https://repo.maven.apache.org/maven2/org/apache/kafka/kafka-clients/4.4.0"
STARTED = f"[INFO] Downloading from central: {BASE}/kafka-clients-4.4.0.jar"
FINISHED = f"[INFO] Downloaded from central: {BASE}/kafka-clients-4.4.0.jar (8.1 MB at 12 MB/s)"


def test_parse_started_line() -> None:
    transfer = parse_maven_line(STARTED)
    assert transfer is not None
    assert transfer.kind == "started"
    assert transfer.repository == "central"
    assert transfer.artifact == "kafka-clients-4.4.0.jar"
    assert transfer.size_bytes is None


def test_parse_finished_line_with_size() -> None:
    transfer = parse_maven_line(FINISHED)
    assert transfer is not None
    assert transfer.kind == "finished"
    assert transfer.size_bytes == 8_100_000


def test_parse_ignores_other_lines_and_strips_colour() -> None:
    assert parse_maven_line("[INFO] BUILD SUCCESS") is None
    assert parse_maven_line("") is None
    coloured = "[\x1b[1;34mINFO\x1b[m] " + FINISHED.removeprefix("[INFO] ")
    transfer = parse_maven_line(coloured)
    assert transfer is not None
    assert transfer.size_bytes == 8_100_000


def test_sizes_use_decimal_units() -> None:
    assert parse_size("18", "kB") == 18_000
    assert parse_size("512", "B") == 512
    assert parse_size("1,234.5", "kB") == 1_234_500
    assert parse_size("1.5", "GB") == 1_500_000_000


def test_tracker_counts_files_and_bytes() -> None:
    tracker = DownloadTracker()
    for line in [STARTED, "[INFO] noise", FINISHED, STARTED.replace("clients", "raft")]:
        tracker.feed(line)
    assert (tracker.started, tracker.finished, tracker.bytes_done) == (2, 1, 8_100_000)
    assert tracker.current == "kafka-raft-4.4.0.jar"
    assert tracker.summary() == "1 files, 8.1 MB"


def test_plain_reporter_on_non_tty_prints_lines() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False)
    tracker = DownloadTracker()
    tracker.feed(FINISHED)
    with ProgressReporter("Resolving", console, interval=0.0) as reporter:
        reporter.update(tracker)
    text = buffer.getvalue()
    assert "Resolving ..." in text
    assert "downloaded 1 files, 8.1 MB" in text
