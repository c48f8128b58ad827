"""``continuum export``: a model version as a self-contained folder for batch scoring.

Only the options live here; the work is in :mod:`continuum.cli.bundle`, imported when the
command runs (it loads pandas, scikit-learn and skops) so ``continuum --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from continuum.cli.output import fail, out
from continuum.cli.pipelines_commands import MAX_VERSION, RegistryOption

if TYPE_CHECKING:
    from continuum.cli.bundle.export import Exported


def export(
    target: Annotated[
        str,
        typer.Argument(
            metavar="PIPELINE|BUNDLE", help="The pipeline to export (with --check: the bundle)."
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Argument(metavar="OUT", help="The folder to create.", show_default=False),
    ] = None,
    version: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=MAX_VERSION,
            help="The model version. Default: the champion.",
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Verify a bundle instead: checksums, then scoring.")
    ] = False,
    registry: RegistryOption = "http://127.0.0.1:8100",
    artifact_root: Annotated[
        str | None,
        typer.Option(
            envvar="CONTINUUM_ARTIFACT_ROOT",
            help="The artifact store's URI. Default: file://HOME/artifacts.",
            show_default=False,
        ),
    ] = None,
    home: Annotated[Path, typer.Option(help="The home `continuum up` runs from.")] = Path(
        ".continuum"
    ),
) -> None:
    """Write PIPELINE's champion (or --version) to OUT as a bundle that scores CSV or
    Parquet files with `python OUT/predict.py IN OUT` after `pip install -r
    OUT/requirements.txt`; or, with --check BUNDLE, verify every file's sha256 and that the
    model still gives the predictions stored at export for the reference sample."""
    if check:
        if out_dir is not None or version is not None:
            fail("--check takes only the bundle folder")
        _check(Path(target))
        return
    if out_dir is None:
        fail("name the folder to write: continuum export PIPELINE OUT")
    root = artifact_root or (home.resolve() / "artifacts").as_uri()
    _export(target, version, out_dir, registry, root)


def _check(bundle: Path) -> None:
    from continuum.cli.bundle.predict import BundleError, check

    try:
        out.print(check(bundle.resolve()), highlight=False)
    except BundleError as exc:
        fail(f"{bundle}/{exc}")


def _export(pipeline: str, version: int | None, out_dir: Path, registry: str, root: str) -> None:
    import asyncio

    from continuum.cli.bundle.export import ExportError, fetch, write_bundle
    from continuum.modelkit import UntrustedModelError
    from continuum.registry_client import (
        RegistryClient,
        RegistryError,
        RegistryUnavailableError,
    )
    from continuum.storage import IntegrityError, open_store

    async def _fetch() -> Exported:
        async with RegistryClient(registry) as client:
            return await fetch(client, open_store(root), pipeline, version)

    try:
        exported = asyncio.run(_fetch())
        fallbacks = write_bundle(exported, out_dir)
    except (ExportError, RegistryError, RegistryUnavailableError) as exc:
        fail(str(exc))
    except (IntegrityError, UntrustedModelError, FileNotFoundError, ValueError) as exc:
        fail(f"{pipeline}: artifact refused: {exc}")
    if fallbacks:
        out.print(
            f"note: the model card names no version of {', '.join(fallbacks)}; "
            "requirements.txt pins this environment's",
            highlight=False,
        )
    out.print(f"{pipeline} v{exported.record.version} -> {out_dir}", highlight=False)
