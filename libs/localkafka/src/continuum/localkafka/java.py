"""Finding ``java`` and ``mvn`` and checking that Java is recent enough for Kafka 4.x."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from continuum.localkafka.errors import MissingToolError

#: Kafka 4.x brokers refuse to run on anything older.
MIN_JAVA_MAJOR = 17

_VERSION_RE = re.compile(r'version "(?P<major>\d+)(?:\.(?P<minor>\d+))?')


def install_hint() -> str:
    """Return the commands that install a suitable Java runtime and Maven."""
    return (
        "Install a Java 17+ runtime and Maven, for example:\n"
        "  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless maven\n"
        "  Fedora/RHEL:   sudo dnf install -y java-17-openjdk-headless maven\n"
        "  macOS:         brew install openjdk@17 maven\n"
        "or point JAVA_HOME at a JDK/JRE 17+."
    )


def parse_java_major(version_output: str) -> int | None:
    """Return the major Java version from ``java -version`` output (``1.8`` counts as 8)."""
    match = _VERSION_RE.search(version_output)
    if match is None:
        return None
    major = int(match["major"])
    # Java 8 and older report "1.8.0_392": the real major version is the second number.
    if major == 1 and match["minor"] is not None:
        return int(match["minor"])
    return major


def find_java() -> Path:
    """Locate ``java``: ``$JAVA_HOME/bin/java`` first (as Kafka's own scripts do), then PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("java")
    if found is None:
        raise MissingToolError(
            "Java was not found (no `java` on PATH and no usable JAVA_HOME). "
            "Continuum's local Kafka runs the real broker on the JVM.\n" + install_hint()
        )
    return Path(found)


def check_java(java: Path | None = None) -> tuple[Path, int]:
    """Return ``(java path, major version)``; raise :class:`MissingToolError` if too old."""
    java = java or find_java()
    try:
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError as exc:
        raise MissingToolError(f"Could not run {java}: {exc}\n{install_hint()}") from exc
    # `java -version` writes to stderr; some builds use stdout.
    major = parse_java_major(proc.stderr + proc.stdout)
    if major is None:
        raise MissingToolError(
            f"Could not read the Java version from `{java} -version`.\n{install_hint()}"
        )
    if major < MIN_JAVA_MAJOR:
        raise MissingToolError(
            f"{java} is Java {major}, but Kafka 4.x needs Java {MIN_JAVA_MAJOR} or newer.\n"
            + install_hint()
        )
    return java, major


def find_mvn() -> Path:
    """Locate ``mvn`` on PATH (only needed the first time, to download the jars)."""
    found = shutil.which("mvn")
    if found is None:
        raise MissingToolError(
            "Maven (`mvn`) was not found on PATH. It is needed once, to download the "
            "Kafka jars from Maven Central.\n" + install_hint()
        )
    return Path(found)
