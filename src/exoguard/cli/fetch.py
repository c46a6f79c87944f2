"""`exoguard fetch ...`: download archive tables and MAST light curves into the cache.

Base URLs come from ``EXOGUARD_ARCHIVE_URL`` / ``EXOGUARD_MAST_URL`` (default: the NASA
Exoplanet Archive and MAST); files go under ``EXOGUARD_VAR_DIR/cache``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

fetch_app = typer.Typer(
    name="fetch",
    help="Download NASA Exoplanet Archive tables and MAST light curves into the local cache.",
    no_args_is_help=True,
)

_TABLE_CHOICES = ("koi", "toi", "k2", "all")
_MISSION_CHOICES = ("kepler", "k2", "tess")
_CADENCE_CHOICES = ("long", "short", "fast", "any")


def _human(size_bytes: int) -> str:
    value = float(size_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size_bytes} B"


def _emit(payload: dict[str, Any], rows: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    for row in rows:
        note = " (cached)" if row["cached"] else ""
        typer.echo(f"{row['path']}\t{_human(row['bytes'])}{note}")


@fetch_app.command("catalogs")
def catalogs_cmd(
    table: Annotated[
        str, typer.Option("--table", "-t", help="koi, toi, k2 or all (default: all).")
    ] = "all",
    force: Annotated[
        bool, typer.Option("--force", help="Download even when today's copy is cached.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Download the KOI cumulative, TOI and K2 planets-and-candidates tables (TAP, CSV)."""
    from exoguard.catalogs.remote import REMOTE_TABLES, ArchiveClient

    if table not in _TABLE_CHOICES:
        raise typer.BadParameter(
            f"must be one of {', '.join(_TABLE_CHOICES)}, got {table!r}", param_hint="--table"
        )
    tables = list(REMOTE_TABLES) if table == "all" else [table]
    rows: list[dict[str, Any]] = []
    from exoguard.config import get_settings
    from exoguard.downloads import default_cache_dir

    settings = get_settings()
    cache_dir = default_cache_dir(settings.var_dir)
    with ArchiveClient(base_url=settings.archive_url, cache_dir=cache_dir) as client:
        for name in tables:
            typer.echo(f"fetching {name} from {client.base_url} ...", err=True)
            got = client.fetch_catalog(name, force=force)  # type: ignore[arg-type]
            rows.append(
                {
                    "table": got.table,
                    "path": str(got.path),
                    "bytes": got.size_bytes,
                    "sha256": got.sha256,
                    "download_sha256": got.download_sha256,
                    "rows": got.n_rows,
                    "cached": got.cached,
                    "url": got.url,
                }
            )
    _emit({"files": rows}, rows, as_json=as_json)


@fetch_app.command("lightcurves")
def lightcurves_cmd(
    target: Annotated[
        str, typer.Argument(help="KIC/EPIC/TIC id (e.g. 'KIC 10797460') or a star name.")
    ],
    mission: Annotated[str, typer.Option("--mission", "-m", help="kepler, k2 or tess.")],
    cadence: Annotated[
        str | None,
        typer.Option(
            "--cadence",
            help="long, short, fast or any (default: long for Kepler/K2, 2-min for TESS, "
            "else what exists).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Download even when the file is cached.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Download the official pipeline light curves of one target from MAST."""
    from tqdm import tqdm

    from exoguard.io.mast import MastClient

    if mission not in _MISSION_CHOICES:
        raise typer.BadParameter(
            f"must be one of {', '.join(_MISSION_CHOICES)}, got {mission!r}",
            param_hint="--mission",
        )
    if cadence is not None and cadence not in _CADENCE_CHOICES:
        raise typer.BadParameter(
            f"must be one of {', '.join(_CADENCE_CHOICES)}, got {cadence!r}",
            param_hint="--cadence",
        )
    rows: list[dict[str, Any]] = []
    from exoguard.config import get_settings
    from exoguard.downloads import default_cache_dir

    settings = get_settings()
    cache_dir = default_cache_dir(settings.var_dir)
    with MastClient(base_url=settings.mast_url, cache_dir=cache_dir) as client:
        typer.echo(f"searching {client.base_url} for {target} ({mission}) ...", err=True)
        products = client.search_lightcurves(
            target,
            mission=mission,  # type: ignore[arg-type]
            cadence=cadence,  # type: ignore[arg-type]
        )
        for product in tqdm(products, desc="light curves", unit="file", disable=None):
            got = client.download(product, force=force)
            rows.append(
                {
                    "path": str(got.path),
                    "bytes": got.size_bytes,
                    "sha256": got.sha256,
                    "cached": got.cached,
                    "cadence": product.cadence,
                    "data_uri": product.data_uri,
                    "url": got.url,
                }
            )
    payload = {
        "target": target,
        "mission": mission,
        "target_name": products[0].target_name if products else None,
        "files": rows,
    }
    _emit(payload, rows, as_json=as_json)


def register(app: typer.Typer) -> None:
    """Add the `fetch` command group."""
    app.add_typer(fetch_app, name="fetch")
