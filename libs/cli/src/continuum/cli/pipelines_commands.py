"""``continuum pipelines ...``: pipelines as code, applied to the registry."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from continuum.cli.output import fail, out
from continuum.contracts import parse_spec_yaml
from continuum.registry_client import RegistryClient, RegistryError, RegistryUnavailableError

app = typer.Typer(
    help="Apply and list pipeline specs (YAML) in the registry.", no_args_is_help=True
)

RegistryOption = Annotated[
    str,
    typer.Option(envvar="CONTINUUM_REGISTRY_URL", help="Registry base URL."),
]


def _token(home: Path) -> str | None:
    if token := os.environ.get("CONTINUUM_REGISTRY_TOKEN"):
        return token
    path = home / "registry-token"
    return path.read_text().strip() if path.exists() else None


@app.command()
def apply(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    registry: RegistryOption = "http://127.0.0.1:8100",
    home: Annotated[Path, typer.Option(help="Where `continuum up` keeps the token.")] = Path(
        ".continuum"
    ),
) -> None:
    """Validate FILE and store it as the pipeline's next spec version."""
    text = file.read_text()
    try:
        spec = parse_spec_yaml(text)
    except (ValidationError, ValueError) as exc:
        fail(f"{file} is not a valid pipeline spec", str(exc))

    async def _apply() -> None:
        async with RegistryClient(registry, token=_token(home)) as client:
            record = await client.apply_spec(
                spec.name, text, applied_by=os.environ.get("USER", "cli")
            )
        state = "unchanged" if record.unchanged else "applied"
        out.print(f"pipeline {record.name}: spec v{record.spec_version} {state}", highlight=False)

    try:
        asyncio.run(_apply())
    except (RegistryError, RegistryUnavailableError) as exc:
        fail(str(exc))


@app.command("list")
def list_pipelines(registry: RegistryOption = "http://127.0.0.1:8100") -> None:
    """List pipelines with their spec version and champion."""

    async def _list() -> None:
        async with RegistryClient(registry) as client:
            rows = await client.list_pipelines()
        table = Table("pipeline", "spec", "source topic", "task", "champion", "versions")
        for row in rows:
            champion = f"v{row.champion_version}" if row.champion_version else "-"
            table.add_row(
                row.name,
                f"v{row.spec_version}",
                row.source_topic,
                row.task,
                champion,
                str(row.model_versions),
            )
        out.print(table)

    try:
        asyncio.run(_list())
    except (RegistryError, RegistryUnavailableError) as exc:
        fail(str(exc))
