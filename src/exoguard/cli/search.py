"""`exoguard search FILE...` and `exoguard inject-recover FILE...`: transit search from the shell.

Files of one target (quarters, sectors) are stitched; files of several targets are searched one
target at a time. With ``--json`` stdout holds only the JSON; the progress bar goes to stderr.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from exoguard.cli.progress import progress
from exoguard.jsonsafe import jsonable

if TYPE_CHECKING:
    from exoguard.core.lightcurve import LightCurve

ENGINE_CHOICES = ("fast", "astropy")
INJECT_ENGINE_CHOICES = ("fast", "astropy", "astropy-ofir")


def load_targets(files: Sequence[Path]) -> list[LightCurve]:
    """Read the files; stitch those of one target, keep targets apart (in order of appearance)."""
    from exoguard.errors import ValidationError
    from exoguard.io import read_lightcurve

    paths = [str(f) for f in files]
    if len(paths) > 1:
        try:
            return [read_lightcurve(paths)]
        except ValidationError as exc:
            if "different targets" not in str(exc):
                raise
    else:
        return [read_lightcurve(paths[0])]
    groups: dict[str, list[str]] = {}
    for path in paths:
        groups.setdefault(read_lightcurve(path).target_id, []).append(path)
    return [read_lightcurve(group if len(group) > 1 else group[0]) for group in groups.values()]


def _check_choice(value: str, choices: Sequence[str], hint: str) -> None:
    if value not in choices:
        raise typer.BadParameter(
            f"must be one of {', '.join(choices)}, got {value!r}", param_hint=hint
        )


def _star(radius: float | None, mass: float | None) -> Any:
    from exoguard.core.search.star import StarParams

    return StarParams(radius_rsun=radius, mass_msun=mass)


def search_cmd(
    files: Annotated[list[Path], typer.Argument(help="Light-curve files (FITS, CSV, JSON).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    max_planets: Annotated[
        int, typer.Option("--max-planets", min=1, help="Stop after this many candidates.")
    ] = 5,
    min_period: Annotated[
        float | None, typer.Option("--min-period", help="Shortest period, days (0.5).")
    ] = None,
    max_period: Annotated[
        float | None, typer.Option("--max-period", help="Longest period, days (half the span).")
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="fast (numba) or astropy (BoxLeastSquares).")
    ] = "fast",
    sde_threshold: Annotated[
        float | None, typer.Option("--sde-threshold", help="Detection SDE (6.5).")
    ] = None,
    star_radius: Annotated[
        float | None, typer.Option("--star-radius", help="Stellar radius, solar radii.")
    ] = None,
    star_mass: Annotated[
        float | None, typer.Option("--star-mass", help="Stellar mass, solar masses.")
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Search light curves for periodic transits (BLS, iterated to find several planets)."""
    from exoguard.core.search import DEFAULT_SDE_THRESHOLD, search_lightcurve

    _check_choice(engine, ENGINE_CHOICES, "--engine")
    targets_out: list[dict[str, Any]] = []
    for lc in load_targets(files):
        with progress(
            f"search {lc.target_id}", unit="search steps", enabled=not no_progress
        ) as bar:
            result = search_lightcurve(
                lc,
                min_period_days=min_period,
                max_period_days=max_period,
                max_planets=max_planets,
                sde_threshold=DEFAULT_SDE_THRESHOLD if sde_threshold is None else sde_threshold,
                engine=engine,  # type: ignore[arg-type]  # checked above
                star=_star(star_radius, star_mass),
                progress=bar.set,
            )
        targets_out.append(
            {
                "target": lc.target_id,
                "mission": lc.mission,
                "n_points": lc.n_points,
                "baseline_days": lc.baseline_days,
                "sources": list(lc.sources),
                "engine": engine,
                "n_periods": result.grid.n_periods,
                "elapsed_s": result.elapsed_s,
                "stop_reason": result.stop_reason,
                "candidates": [c.to_dict() for c in result.candidates],
            }
        )
    if as_json:
        typer.echo(json.dumps(jsonable({"targets": targets_out}), indent=2))
        return
    for target in targets_out:
        typer.echo(
            f"{target['target']} ({target['mission']}, {target['n_points']} points, "
            f"{target['baseline_days']:.1f} d): {len(target['candidates'])} candidate(s); "
            f"{target['stop_reason']}"
        )
        for c in target["candidates"]:
            flags = [f"alias of {c['alias_of']} ({c['alias_ratio']})"] if c["alias_of"] else []
            flags += ["single transit"] if c["single_transit"] else []
            flags += ["few transits"] if c["few_transits"] and not c["single_transit"] else []
            typer.echo(
                f"  {c['object_id']}: P={c['period_days']:.6f} d  t0={c['t0_bjd']:.5f}  "
                f"dur={c['duration_hours']:.2f} h  depth={c['depth_ppm']:.0f}"
                f"+-{c['depth_err_ppm']:.0f} ppm  SNR={c['snr']:.1f}  SDE={c['sde']:.1f}  "
                f"N={c['n_transits']}  odd/even={_fmt(c['odd_even_sigma'])} sig  "
                f"sec={_fmt(c['secondary_depth_ppm'], 0)} ppm ({_fmt(c['secondary_sigma'])} sig)"
                f"  shape={c['shape']}" + (f"  [{', '.join(flags)}]" if flags else "")
            )


def _fmt(value: float | None, digits: int = 1) -> str:
    return "nan" if value is None else f"{value:.{digits}f}"


def _parse_floats(text: str, hint: str) -> list[float]:
    try:
        values = [float(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError as exc:
        raise typer.BadParameter(
            f"expected comma-separated numbers, got {text!r}", param_hint=hint
        ) from exc
    if not values or any(not (math.isfinite(v) and v > 0) for v in values):
        raise typer.BadParameter(f"expected positive numbers, got {text!r}", param_hint=hint)
    return values


def plot_completeness(rows: list[dict[str, Any]], path: Path) -> None:
    """Completeness (recovered fraction) per period x radius, one panel per engine (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    engines = sorted({r["engine"] for r in rows})
    periods = sorted({r["period_days"] for r in rows})
    radii = sorted({r["radius_rearth"] for r in rows})
    fig, axes = plt.subplots(
        1, len(engines), figsize=(4.2 * len(engines), 3.6), squeeze=False, sharey=True
    )
    for ax, engine in zip(axes[0], engines, strict=True):
        grid = np.full((len(radii), len(periods)), np.nan)
        for r in rows:
            if r["engine"] == engine:
                grid[radii.index(r["radius_rearth"]), periods.index(r["period_days"])] = r[
                    "completeness"
                ]
        image = ax.imshow(grid, origin="lower", vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(periods)), [f"{p:g}" for p in periods])
        ax.set_yticks(range(len(radii)), [f"{r:g}" for r in radii])
        ax.set_xlabel("period (days)")
        ax.set_title(engine)
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.0%}", ha="center", va="center", color="w", fontsize=8)
    axes[0][0].set_ylabel("planet radius (Earth radii)")
    fig.colorbar(image, ax=axes[0].tolist(), label="recovered fraction")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def inject_recover_cmd(
    files: Annotated[list[Path], typer.Argument(help="Real light curves to inject into.")],
    periods: Annotated[
        str, typer.Option("--periods", help="Injected periods, days, comma-separated.")
    ] = "1.5,3,6",
    radii: Annotated[
        str, typer.Option("--radii", help="Injected planet radii, Earth radii, comma-separated.")
    ] = "1.5,2.5,4",
    engines: Annotated[
        str, typer.Option("--engines", help="Comma-separated: fast, astropy, astropy-ofir.")
    ] = "fast,astropy",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for completeness.csv, trials.csv, completeness.png."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed (EXOGUARD_SEED).")] = None,
    sde_threshold: Annotated[
        float | None, typer.Option("--sde-threshold", help="Detection SDE for all engines.")
    ] = None,
    star_radius: Annotated[
        float | None, typer.Option("--star-radius", help="Stellar radius, solar radii.")
    ] = None,
    star_mass: Annotated[
        float | None, typer.Option("--star-mass", help="Stellar mass, solar masses.")
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Inject limb-darkened transits into real light curves and count what each engine finds."""
    import numpy as np

    from exoguard.config import get_settings
    from exoguard.core.search import DEFAULT_SDE_THRESHOLD
    from exoguard.core.search.injection import completeness_table, injection_recovery

    period_list = _parse_floats(periods, "--periods")
    radius_list = _parse_floats(radii, "--radii")
    engine_list = [e for e in engines.replace(" ", "").split(",") if e]
    for name in engine_list:
        _check_choice(name, INJECT_ENGINE_CHOICES, "--engines")
    seed_value = get_settings().seed if seed is None else seed
    lcs = [lc for f in files for lc in load_targets([f])]
    with progress("inject-recover", unit="trials", enabled=not no_progress) as bar:
        trials = injection_recovery(
            lcs,
            periods_days=period_list,
            radii_rearth=radius_list,
            engines=engine_list,
            rng=np.random.default_rng(seed_value),
            star=_star(star_radius, star_mass),
            sde_threshold=DEFAULT_SDE_THRESHOLD if sde_threshold is None else sde_threshold,
            progress=bar.set,
        )
    rows = completeness_table(trials)
    summary = _engine_summary(trials, engine_list)
    written = _write_inject_outputs(out, rows, trials) if out is not None else []
    payload = {
        "seed": seed_value,
        "sources": [lc.target_id for lc in lcs],
        "summary": summary,
        "completeness": rows,
        "trials": [t.to_dict() for t in trials],
        "files": written,
    }
    if as_json:
        typer.echo(json.dumps(jsonable(payload), indent=2))
        return
    for name, s in summary.items():
        typer.echo(
            f"{name}: recovered {s['n_recovered']}/{s['n_injected']} "
            f"(search time {s['total_search_s']:.1f} s)"
        )
    for r in rows:
        typer.echo(
            f"  {r['engine']:>12}  P={r['period_days']:<6g} R={r['radius_rearth']:<5g} "
            f"{r['n_recovered']}/{r['n_injected']}"
        )
    for path in written:
        typer.echo(f"wrote {path}")


def _engine_summary(trials: Sequence[Any], engine_list: Sequence[str]) -> dict[str, Any]:
    """Injected and recovered counts and total search seconds per engine."""
    return {
        name: {
            "n_injected": sum(1 for t in trials if t.engine == name),
            "n_recovered": sum(1 for t in trials if t.engine == name and t.recovered),
            "total_search_s": sum(t.elapsed_s for t in trials if t.engine == name),
        }
        for name in engine_list
    }


def _write_inject_outputs(
    out: Path, rows: list[dict[str, Any]], trials: Sequence[Any]
) -> list[str]:
    """completeness.csv, trials.csv and completeness.png under ``out``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "completeness.csv", rows)
    _write_csv(out / "trials.csv", [t.to_dict() for t in trials])
    plot_completeness(rows, out / "completeness.png")
    return [str(out / n) for n in ("completeness.csv", "trials.csv", "completeness.png")]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        path.write_text("")
        return
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def warmup_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compile the search kernels into the on-disk cache now (`make run` does, so the first
    upload after start does not wait for the compiler)."""
    import os

    from exoguard.core.search.warmup import warm_up

    seconds = warm_up()
    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    if as_json:
        typer.echo(json.dumps({"seconds": round(seconds, 3), "numba_cache_dir": cache}))
    else:
        typer.echo(f"search kernels ready in {seconds:.1f} s (cache: {cache or 'numba default'})")


def register(app: typer.Typer) -> None:
    """Add `search`, `inject-recover` and `warmup` to the exoguard command line."""
    app.command("search")(search_cmd)
    app.command("inject-recover")(inject_recover_cmd)
    app.command("warmup")(warmup_cmd)
