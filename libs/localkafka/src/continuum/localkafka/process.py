"""The JVM command lines and the broker process: format, launch, terminate."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from continuum.localkafka.errors import KafkaStartError
from continuum.localkafka.state import process_alive


def storage_format_command(
    java: Path, classpath: str, config: Path, cluster_id: str, extra: list[str] | None = None
) -> list[str]:
    """``kafka.tools.StorageTool format`` for a standalone (single-voter) KRaft quorum;
    ``extra`` adds arguments (``--add-scram ...``)."""
    return [
        str(java), "-Xmx256m", "-cp", classpath, "kafka.tools.StorageTool", "format",
        "-t", cluster_id, "-c", str(config), "--standalone", "--ignore-formatted",
        *(extra or []),
    ]  # fmt: skip


def broker_command(
    java: Path, classpath: str, config: Path, log4j_config: Path, logs_dir: Path, heap: str
) -> list[str]:
    """The ``kafka.Kafka`` JVM command line with a bounded heap and our log4j2 config."""
    return [
        str(java), f"-Xmx{heap}", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={logs_dir}", f"-Dlog4j2.configurationFile={log4j_config}",
        "-cp", classpath, "kafka.Kafka", str(config),
    ]  # fmt: skip


def format_storage(cmd: list[str], kraft_dir: Path) -> None:
    """Run the storage format command unless ``kraft_dir`` is already formatted."""
    # Formatting costs a JVM start (~1-2 s); skip it when the storage already exists.
    if (kraft_dir / "meta.properties").is_file():
        return
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise KafkaStartError(
            f"Formatting Kafka storage in {kraft_dir} failed (exit {proc.returncode}).",
            (proc.stdout + proc.stderr).strip(),
        )


def launch(cmd: list[str], cwd: Path, out_file: Path) -> subprocess.Popen[bytes]:
    """Start ``cmd`` detached, appending its stdout/stderr to ``out_file``."""
    with out_file.open("ab") as out:
        out.write(f"\n=== {time.ctime()}: {' '.join(cmd)}\n".encode())
        out.flush()
        # A new session detaches the broker from our terminal (Ctrl-C in the shell does not
        # reach it) and makes its pid a process group id that stop() can signal as a whole.
        return subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(pid), sig)


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``pid`` to exit; return whether it did."""
    deadline = time.monotonic() + timeout
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the process group (Kafka shuts down cleanly on it), SIGKILL after ``timeout``."""
    _signal_group(pid, signal.SIGTERM)
    if not wait_exit(pid, timeout):
        _signal_group(pid, signal.SIGKILL)
        wait_exit(pid, 10.0)
