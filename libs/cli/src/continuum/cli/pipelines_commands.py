"""``continuum pipelines ...``: pipelines as code, applied to the registry.

The registry client, the contracts and rich's tables are imported inside the commands:
``continuum --help`` loads this module, and should not pay for them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from continuum.cli.output import fail, out

if TYPE_CHECKING:
    from continuum.contracts import PipelineSpec

app = typer.Typer(
    help="Pipelines as code: apply specs, list versions and runs, train, promote, roll back.",
    no_args_is_help=True,
)

RegistryOption = Annotated[
    str,
    typer.Option(envvar="CONTINUUM_REGISTRY_URL", help="Registry base URL."),
]


TokenHome = Annotated[Path, typer.Option(help="Where `continuum up` keeps the token.")]
MAX_VERSION = 2**31 - 1
"""The registry's largest version (``continuum.contracts.MAX_VERSION``, kept equal by a
test; not imported so that ``--help`` loads no pydantic models)."""
VersionArgument = Annotated[int, typer.Argument(min=1, max=MAX_VERSION, show_default=False)]


def _run(action: Any) -> None:
    """Run an async registry call; registry errors become a clean CLI error."""
    import asyncio

    from continuum.registry_client import RegistryError, RegistryUnavailableError

    try:
        asyncio.run(action())
    except (RegistryError, RegistryUnavailableError) as exc:
        fail(str(exc))


def _parse(file: Path, text: str) -> PipelineSpec:
    """The spec in ``text``, or a one-line error naming the file (and line and column)."""
    import yaml
    from pydantic import ValidationError

    from continuum.contracts import parse_spec_yaml

    try:
        return parse_spec_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fail(f"{where}: YAML syntax error: {problem}")
    except (ValidationError, ValueError) as exc:
        fail(f"{file} is not a valid pipeline spec", str(exc))


def _token(home: Path) -> str | None:
    if token := os.environ.get("CONTINUUM_REGISTRY_TOKEN"):
        return token
    path = home / "registry-token"
    return path.read_text().strip() if path.exists() else None


@app.command()
def apply(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    registry: RegistryOption = "http://127.0.0.1:8100",
    home: TokenHome = Path(".continuum"),
) -> None:
    """Validate FILE and store it as the pipeline's next spec version."""
    text = file.read_text()
    spec = _parse(file, text)

    async def _apply() -> None:
        from continuum.registry_client import RegistryClient

        async with RegistryClient(registry, token=_token(home)) as client:
            record = await client.apply_spec(
                spec.name, text, applied_by=os.environ.get("USER", "cli")
            )
        state = "unchanged" if record.unchanged else "applied"
        out.print(f"pipeline {record.name}: spec v{record.spec_version} {state}", highlight=False)

    _run(_apply)


@app.command("list")
def list_pipelines(registry: RegistryOption = "http://127.0.0.1:8100") -> None:
    """List pipelines with their spec version and champion."""

    async def _list() -> None:
        from rich.table import Table

        from continuum.registry_client import RegistryClient

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

    _run(_list)


@app.command()
def models(name: str, registry: RegistryOption = "http://127.0.0.1:8100") -> None:
    """List a pipeline's model versions with their metrics, trigger and gate decision."""

    async def _models() -> None:
        from rich.table import Table
        from rich.text import Text

        from continuum.registry_client import RegistryClient

        async with RegistryClient(registry) as client:
            rows = await client.list_models(name)
            # Without a champion serving answers 503: say why, from the registry's status.
            record = None if any(r.is_champion for r in rows) else await client.get_spec(name)
        if record is not None and record.status is not None:
            # Text, not markup: failure reasons quote things like "[0, inf)" verbatim.
            out.print(Text(f"{name}: {record.status.summary}"))
            if not rows:
                return
        table = Table("version", "trigger", "metrics", "decision", "champion", "created")
        for row in rows:
            metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(row.metrics.items()))
            table.add_row(
                f"v{row.version}",
                row.trigger,
                metrics,
                row.decision,
                "★" if row.is_champion else "",
                row.created_at.isoformat(timespec="seconds"),
            )
        out.print(table)

    _run(_models)


@app.command()
def runs(
    name: str,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
    registry: RegistryOption = "http://127.0.0.1:8100",
) -> None:
    """List NAME's recent training runs: status, trigger, version, and why a run failed."""

    async def _runs() -> None:
        from rich.table import Table
        from rich.text import Text

        from continuum.registry_client import RegistryClient

        async with RegistryClient(registry) as client:
            rows = await client.list_runs(name, limit=limit)
        table = Table("received", "trigger", "spec", "status", "version")
        # Fold rather than truncate: the run id and the reason are what one copies.
        table.add_column("run", overflow="fold")
        table.add_column("reason", overflow="fold", ratio=1)
        for row in rows:
            version = f"v{row.version} ({row.decision})" if row.version else "-"
            reason = row.failure_reason or row.decision_reason or ""
            table.add_row(
                row.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                row.trigger or "?",
                f"v{row.spec_version}" if row.spec_version else "?",
                row.status,
                version,
                row.run_id,
                Text(reason),
            )
        out.print(table if rows else f"{name}: no training run has finished yet")

    _run(_runs)


@app.command()
def train(
    name: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "manual request",
    registry: RegistryOption = "http://127.0.0.1:8100",
    home: TokenHome = Path(".continuum"),
) -> None:
    """Ask the trainer for a run of NAME now."""

    async def _train() -> None:
        from continuum.registry_client import RegistryClient

        async with RegistryClient(registry, token=_token(home)) as client:
            accepted = await client.request_training(name, reason=reason, requested_by="cli")
        out.print(f"training requested (event {accepted.event_id})", highlight=False)

    _run(_train)


@app.command()
def promote(
    name: str,
    version: VersionArgument,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "manual promotion",
    registry: RegistryOption = "http://127.0.0.1:8100",
    home: TokenHome = Path(".continuum"),
) -> None:
    """Make VERSION the champion of NAME (serving hot-swaps to it)."""

    async def _promote() -> None:
        from continuum.registry_client import RegistryClient

        async with RegistryClient(registry, token=_token(home)) as client:
            record = await client.promote(name, version, reason=reason)
        out.print(f"{name}: v{record.version} is the champion", highlight=False)

    _run(_promote)


@app.command()
def rollback(
    name: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "manual rollback",
    registry: RegistryOption = "http://127.0.0.1:8100",
    home: TokenHome = Path(".continuum"),
) -> None:
    """Return NAME to its previous champion."""

    async def _rollback() -> None:
        from continuum.registry_client import RegistryClient

        async with RegistryClient(registry, token=_token(home)) as client:
            record = await client.rollback(name, reason=reason)
        out.print(f"{name}: rolled back to v{record.version}", highlight=False)

    _run(_rollback)


@app.command()
def report(
    name: str,
    version: VersionArgument,
    out_file: Annotated[
        Path | None, typer.Option("--out", dir_okay=False, help="Save the report's HTML here.")
    ] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open it in a web browser.")] = False,
    registry: RegistryOption = "http://127.0.0.1:8100",
) -> None:
    """A model version's error-analysis report (HTML): its link, saved with --out, or --open."""
    url = f"{registry.rstrip('/')}/v1/pipelines/{name}/models/{version}/report"

    async def _report() -> None:
        import tempfile
        import webbrowser

        from continuum.registry_client import RegistryClient

        async with RegistryClient(registry) as client:
            page = await client.get_report(name, version)  # checked by the registry's sha256
        target = out_file
        if target is None and open_it:
            handle, path = tempfile.mkstemp(prefix=f"{name}-v{version}-", suffix=".html")
            os.close(handle)
            target = Path(path)
        if target is not None:
            target.write_bytes(page)
            out.print(f"{name} v{version}: report saved to {target} ({len(page):,} bytes)")
        else:
            out.print(f"{name} v{version}: report at {url} ({len(page):,} bytes)")
        if open_it and target is not None:
            webbrowser.open(target.resolve().as_uri())

    _run(_report)
