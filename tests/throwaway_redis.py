"""A throwaway Redis server for tests (the online store's contract tests, serving's).

The server is Debian's ``redis-server``, installed by the project setup. If it is
missing the caller fails (it never skips). No persistence: ``--save ''`` and no AOF.
Importable from any test folder whose conftest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RedisServer:
    """A running server on 127.0.0.1."""

    port: int

    def uri(self, db: int = 0) -> str:
        """The ``redis://`` URI of database ``db``."""
        return f"redis://127.0.0.1:{self.port}/{db}"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def throwaway_redis(start_timeout: float = 30.0) -> Iterator[RedisServer]:
    """Start ``redis-server`` on a free port in a temporary folder; stop it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server not found: run the project setup (it installs Debian's"
            " `redis-server` package)",
            pytrace=False,
        )
    root = Path(tempfile.mkdtemp(prefix="continuum-redis-"))
    port = free_port()
    log = root / "server.log"
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    argv += ["no", "--dir", str(root), "--logfile", str(log)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + start_timeout
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text() if log.exists() else ""
                pytest.fail(f"redis-server did not start on port {port}:\n{text}", pytrace=False)
            time.sleep(0.05)
        yield RedisServer(port=port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)
