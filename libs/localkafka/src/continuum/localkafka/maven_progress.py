"""Following Maven's download log: parsing its lines and showing progress.

With ``-B`` Maven prints one line when a transfer starts and one when it ends::

    [INFO] Downloading from central: https://repo.maven.apache.org/.../x.jar
    [INFO] Downloaded from central: https://repo.maven.apache.org/.../x.jar (18 kB at 88 kB/s)

That is all the progress information there is (the total is unknown up front), so we
count files and bytes and show the artifact currently downloading.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TRANSFER_RE = re.compile(
    r"^(?:\[INFO\]\s+)?(?P<verb>Downloading|Downloaded) from (?P<repo>[^:\s]+): (?P<url>\S+)"
    r"(?: \((?P<size>[\d.,]+) (?P<unit>B|kB|KB|MB|GB) at [^)]*\))?"
)
# Maven (Aether's transfer listener) uses decimal units.
_UNITS = {"B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3}


@dataclass(frozen=True)
class MavenTransfer:
    """One parsed transfer line: ``started`` or ``finished`` (with its size)."""

    kind: Literal["started", "finished"]
    repository: str
    url: str
    size_bytes: int | None

    @property
    def artifact(self) -> str:
        """The file name, e.g. ``kafka-clients-4.4.0.jar``."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]


def parse_size(number: str, unit: str) -> int:
    """Convert Maven's ``"1.2" "MB"`` style size to bytes."""
    return round(float(number.replace(",", "")) * _UNITS[unit])


def parse_maven_line(line: str) -> MavenTransfer | None:
    """Parse one Maven output line; return ``None`` unless it is a transfer line."""
    match = _TRANSFER_RE.match(_ANSI_RE.sub("", line).strip())
    if match is None:
        return None
    size = None
    if match["size"] is not None:
        size = parse_size(match["size"], match["unit"])
    kind: Literal["started", "finished"] = (
        "started" if match["verb"] == "Downloading" else "finished"
    )
    return MavenTransfer(kind=kind, repository=match["repo"], url=match["url"], size_bytes=size)


@dataclass
class DownloadTracker:
    """Running totals of Maven's downloads."""

    started: int = 0
    finished: int = 0
    bytes_done: int = 0
    current: str | None = None

    def feed(self, line: str) -> MavenTransfer | None:
        """Update the totals from one line of Maven output; return the parsed transfer."""
        transfer = parse_maven_line(line)
        if transfer is None:
            return None
        if transfer.kind == "started":
            self.started += 1
            self.current = transfer.artifact
        else:
            self.finished += 1
            self.bytes_done += transfer.size_bytes or 0
        return transfer

    def summary(self) -> str:
        """One human line, e.g. ``120 files, 43.1 MB``."""
        return f"{self.finished} files, {self.bytes_done / 1e6:.1f} MB"


class ProgressReporter:
    """Shows a :class:`DownloadTracker`: a rich live line on a terminal, plain lines otherwise.

    Plain lines are printed at most every ``interval`` seconds so CI logs stay short.
    """

    def __init__(
        self,
        title: str,
        console: Console | None = None,
        *,
        quiet: bool = False,
        interval: float = 2.0,
    ) -> None:
        self.title = title
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.interval = interval
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last_plain = 0.0

    def __enter__(self) -> ProgressReporter:
        if self.quiet:
            return self
        if self.console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("[cyan]{task.fields[totals]}"),
                TextColumn("[dim]{task.fields[current]}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.title, total=None, totals="", current="")
        else:
            self.console.print(f"{self.title} ...", markup=False, highlight=False)
            self._last_plain = time.monotonic()
        return self

    def update(self, tracker: DownloadTracker) -> None:
        """Refresh the display from the tracker's totals."""
        if self.quiet:
            return
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task, totals=tracker.summary(), current=tracker.current or ""
            )
            return
        now = time.monotonic()
        if now - self._last_plain >= self.interval:
            self._last_plain = now
            current = f" (now: {tracker.current})" if tracker.current else ""
            self.console.print(
                f"  downloaded {tracker.summary()}{current}", markup=False, highlight=False
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
