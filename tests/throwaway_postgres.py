"""A throwaway PostgreSQL server for tests (the registry's store tests, the compose test).

The server comes from Debian's ``postgresql`` package, installed by the project setup.
If its binaries are missing the caller fails (it never skips). Importable from any test
folder whose conftest puts this folder on ``sys.path`` (pytest runs with
``--import-mode=importlib``, which does not).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest


def _pg_bin() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
    )
    for folder in reversed(candidates):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    pytest.fail(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
        "run the project setup (it installs Debian's `postgresql` package)",
        pytrace=False,
    )


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class PostgresServer:
    """A running server on 127.0.0.1 (trust authentication: any password is accepted)."""

    port: int

    def execute(self, sql: str) -> None:
        """Run one statement as the superuser ``postgres`` (autocommit)."""
        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str, *, owner: str | None = None) -> None:
        """Create a database (and its owner role, with login, if given)."""
        if owner is not None:
            self.execute(f'CREATE ROLE "{owner}" LOGIN')
            self.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        else:
            self.execute(f'CREATE DATABASE "{name}"')

    def url(self, database: str, *, user: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` (psycopg 3 driver)."""
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.port}/{database}"


@contextmanager
def throwaway_postgres() -> Iterator[PostgresServer]:
    """Start a PostgreSQL server in a temporary folder; stop it and delete the folder after."""
    bin_dir = _pg_bin()
    # Not under pytest's tmp_path: its parents are private to root, and as root the
    # server must run as the `postgres` user (initdb refuses to run as root).
    root = Path(tempfile.mkdtemp(prefix="continuum-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()

    def run(*argv: str) -> None:
        result = subprocess.run([*as_user, *argv], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
            pytest.fail(f"{argv[0]} failed: {result.stderr}{result.stdout}\n{log}", pytrace=False)

    initdb = [str(bin_dir / "initdb"), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
    run(*initdb, "--no-sync", "-D", str(data))
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = str(bin_dir / "pg_ctl")
    run(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
    try:
        yield PostgresServer(port=port)
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
