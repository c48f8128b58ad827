"""Resolving the Kafka jars from Maven Central into a versioned cache.

The first start runs ``mvn dependency:copy-dependencies`` on ``deploy/kafka/pom.xml`` into
a temporary directory inside the cache, then renames it to ``libs/`` and writes a marker.
Rename is atomic, so a killed download never leaves a half-filled ``libs/`` that a later
start would trust; later starts only check the marker and are instant.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from continuum.localkafka.errors import JarResolutionError, PomNotFoundError
from continuum.localkafka.java import find_mvn
from continuum.localkafka.maven_progress import DownloadTracker, ProgressReporter

POM_ENV = "CONTINUUM_KAFKA_POM"
CACHE_ENV = "CONTINUUM_KAFKA_CACHE"
POM_RELATIVE = Path("deploy") / "kafka" / "pom.xml"
MARKER = "complete.json"
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


@dataclass(frozen=True)
class KafkaJars:
    """A complete, cached set of broker jars."""

    version: str
    libs_dir: Path
    pom: Path
    downloaded: bool
    seconds: float

    @property
    def classpath(self) -> str:
        """The JVM classpath (a wildcard the JVM expands itself, so no shell is needed)."""
        return str(self.libs_dir / "*")


def find_pom(
    explicit: Path | str | None = None, *, start_dirs: Sequence[Path] | None = None
) -> Path:
    """Locate the Kafka POM: ``explicit``, else ``$CONTINUUM_KAFKA_POM``, else search upward.

    The upward search starts from this module's directory (an editable install inside the
    repo) and from the current directory (an installed wheel run inside a checkout).
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise PomNotFoundError(f"Kafka POM not found at {path} (given explicitly).")
        return path.resolve()
    from_env = os.environ.get(POM_ENV)
    if from_env:
        path = Path(from_env).expanduser()
        if not path.is_file():
            raise PomNotFoundError(f"Kafka POM not found at {path} (from ${POM_ENV}).")
        return path.resolve()
    starts = list(start_dirs) if start_dirs is not None else [Path(__file__).parent, Path.cwd()]
    searched: list[Path] = []
    for start in starts:
        for directory in [start.resolve(), *start.resolve().parents]:
            candidate = directory / POM_RELATIVE
            if candidate.is_file():
                return candidate
        searched.append(start.resolve())
    raise PomNotFoundError(
        f"Could not find {POM_RELATIVE} in any parent of: "
        + ", ".join(str(s) for s in searched)
        + f". Run from inside the Continuum checkout or set ${POM_ENV} to the POM's path."
    )


def read_kafka_version(pom: Path) -> str:
    """Return the Kafka version the POM asks for (``kafka.version`` or the dependency's)."""
    # Our own POM in the repo, not untrusted input.
    root = ET.parse(pom).getroot()  # noqa: S314
    prop = root.find("m:properties/m:kafka.version", _NS)
    if prop is not None and prop.text:
        return prop.text.strip()
    for dep in root.iterfind("m:dependencies/m:dependency", _NS):
        artifact = dep.findtext("m:artifactId", default="", namespaces=_NS)
        version = dep.findtext("m:version", default="", namespaces=_NS)
        if artifact.startswith("kafka_") and version and "$" not in version:
            return version.strip()
    raise JarResolutionError(f"{pom} declares no kafka.version property or kafka_2.13 version.")


def cache_root() -> Path:
    """Return the cache root: ``$CONTINUUM_KAFKA_CACHE`` or ``~/.cache/continuum/kafka``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "continuum" / "kafka"


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def cached_jars(pom: Path, cache_dir: Path | None = None) -> KafkaJars | None:
    """Return the cached jars for this POM, or ``None`` if they are missing or stale."""
    version = read_kafka_version(pom)
    base = (cache_dir or cache_root()) / version
    try:
        marker = json.loads((base / MARKER).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    # A POM edit (e.g. a log4j bump) with the same Kafka version must refresh the cache.
    if marker.get("pom_sha256") != _pom_digest(pom) or not (base / "libs").is_dir():
        return None
    return KafkaJars(version, base / "libs", pom, downloaded=False, seconds=0.0)


@contextlib.contextmanager
def _locked(base: Path) -> Iterator[None]:
    # Two processes (CLI + pytest) may fetch at once; one downloads, the other waits.
    base.mkdir(parents=True, exist_ok=True)
    with (base / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def resolve_jars(
    pom: Path | str | None = None,
    *,
    cache_dir: Path | None = None,
    console: Console | None = None,
    quiet: bool = False,
) -> KafkaJars:
    """Return the broker jars, downloading them with Maven on first use."""
    pom_path = find_pom(pom)
    hit = cached_jars(pom_path, cache_dir)
    if hit is not None:
        return hit
    version = read_kafka_version(pom_path)
    base = (cache_dir or cache_root()) / version
    began = time.monotonic()
    with _locked(base):
        hit = cached_jars(pom_path, cache_dir)  # another process may have finished meanwhile
        if hit is not None:
            return hit
        for stale in base.glob(".download-*"):  # left by a killed run; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=base))
        try:
            _run_maven(pom_path, tmp / "libs", version, console, quiet)
            _install(base, tmp / "libs", pom_path, version)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return KafkaJars(
        version, base / "libs", pom_path, downloaded=True, seconds=time.monotonic() - began
    )


def _run_maven(
    pom: Path, out_dir: Path, version: str, console: Console | None, quiet: bool
) -> None:
    mvn = find_mvn()
    cmd = [
        str(mvn),
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={out_dir}",
    ]
    tracker = DownloadTracker()
    tail: collections.deque[str] = collections.deque(maxlen=60)
    title = f"Resolving Kafka {version} jars from Maven Central"
    with ProgressReporter(title, console, quiet=quiet) as reporter:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=pom.parent,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            if tracker.feed(line) is not None:
                reporter.update(tracker)
        code = proc.wait()
    if code != 0:
        errors = [line for line in tail if "[ERROR]" in line] or list(tail)
        raise JarResolutionError(
            f"Maven failed (exit {code}) resolving Kafka {version} from {pom}:\n"
            + "\n".join(errors[-25:])
            + "\nCheck network access to Maven Central (or a mirror in ~/.m2/settings.xml)."
        )
    if not any(out_dir.glob("kafka_*.jar")) or not any(out_dir.glob("log4j-core-*.jar")):
        raise JarResolutionError(f"Maven succeeded but {out_dir} lacks the Kafka/log4j jars.")
    if not quiet:
        out = console or Console(stderr=True)
        if tracker.finished:
            out.print(f"Downloaded {tracker.summary()} for Kafka {version}.", highlight=False)
        else:  # everything was already in the local Maven repository (~/.m2)
            out.print(f"Kafka {version} jars copied from the local Maven repository.")


def _install(base: Path, new_libs: Path, pom: Path, version: str) -> None:
    libs = base / "libs"
    (base / MARKER).unlink(missing_ok=True)  # libs/ without a marker is never trusted
    if libs.exists():
        # Move the old set aside first: rename cannot replace a non-empty directory.
        old = base / f".old-{os.getpid()}"
        libs.rename(old)
        shutil.rmtree(old, ignore_errors=True)
    new_libs.rename(libs)
    marker = {
        "version": version,
        "pom": str(pom),
        "pom_sha256": _pom_digest(pom),
        "jars": sorted(p.name for p in libs.glob("*.jar")),
        "created_at": time.time(),
    }
    tmp_marker = base / (MARKER + ".tmp")
    tmp_marker.write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    tmp_marker.replace(base / MARKER)
