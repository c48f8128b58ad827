"""Shared console helpers for the ``continuum`` sub-commands."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

#: Results go to stdout; progress and errors go to stderr so output stays pipeable.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, detail: str | None = None) -> NoReturn:
    """Print ``message`` in red (and ``detail`` dimmed) on stderr, then exit with code 1."""
    # Text, not markup: messages quote log lines such as "[INFO] ..." verbatim.
    err.print(Text(f"error: {message}", style="bold red"))
    if detail:
        err.print(Text(detail, style="dim"))
    raise typer.Exit(code=1)
