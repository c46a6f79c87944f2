"""Text of the reports: number formats, the diagnostics table, time axes (no matplotlib)."""

from __future__ import annotations

import math
from typing import Final

from exoguard.core.lightcurve import BKJD_OFFSET, BTJD_OFFSET
from exoguard.reports.model import CandidateReport

__all__ = [
    "TIME_SCALES",
    "chart_time_axis",
    "diagnostics_rows",
    "fmt",
    "fmt_pm",
    "label_words",
    "time_axis",
]


#: The familiar time scale of each mission: offset from BJD_TDB (days) and its name.
TIME_SCALES: Final[dict[str, tuple[float, str]]] = {
    "kepler": (BKJD_OFFSET, "BKJD"),
    "k2": (BKJD_OFFSET, "BKJD"),
    "tess": (BTJD_OFFSET, "BTJD"),
}
#: Offset of the time axis of other missions (no named scale).
DEFAULT_TIME_OFFSET: Final = 2450000.0


def _time_scale(mission: str | None) -> tuple[float, str, str | None]:
    offset, name = TIME_SCALES.get((mission or "").lower(), (DEFAULT_TIME_OFFSET, None))
    return offset, f"BJD − {offset:.0f}", name


def time_axis(mission: str | None) -> tuple[float, str]:
    """Offset to subtract from BJD and the axis label for a mission's usual time scale.

    The label of the report: ``"BKJD (BJD − 2454833) [d]"`` for Kepler and K2.
    """
    offset, formula, name = _time_scale(mission)
    return offset, f"{formula} [d]" if name is None else f"{name} ({formula}) [d]"


def chart_time_axis(mission: str | None) -> tuple[float, str]:
    """The offset of :func:`time_axis` and the shorter title of the pages' charts.

    ``"BJD − 2454833 (BKJD)"`` for Kepler and K2 (the chart adds ``Time [...]``).
    """
    offset, formula, name = _time_scale(mission)
    return offset, formula if name is None else f"{formula} ({name})"


def fmt(value: float | int | None, spec: str = ".4g", *, unit: str = "") -> str:
    """`value` formatted with `spec` (and a unit), or an em dash when unknown."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    text = format(value, spec)
    return f"{text} {unit}".rstrip()


def fmt_pm(value: float | None, err: float | None, spec: str, unit: str = "") -> str:
    """``value ± err`` formatted with `spec`; just the value when the error is unknown."""
    if value is None:
        return "—"
    if err is None:
        return fmt(value, spec, unit=unit)
    return f"{format(value, spec)} ± {format(err, spec)} {unit}".rstrip()


def label_words(label: str | None) -> str:
    """A label in words ("false positive" for ``false_positive``)."""
    return {
        "planet": "planet",
        "false_positive": "false positive",
        "candidate": "candidate",
        None: "—",
    }.get(label, str(label))


def diagnostics_rows(report: CandidateReport) -> list[tuple[str, str]]:
    """The (label, value) rows of the diagnostics table."""
    d = report.diagnostics
    offset, _ = time_axis(report.mission)
    t0 = "—" if d.t0_bjd is None else f"{d.t0_bjd:.5f}  ({d.t0_bjd - offset:.4f})"
    shape = {"U": "U (flat-bottomed)", "V": "V (grazing or EB-like)"}.get(d.shape or "", "—")
    if d.ingress_fraction is not None:
        shape += f", ingress {d.ingress_fraction:.2f}"
    secondary = "—"
    if d.secondary_depth_ppm is not None:
        secondary = f"{d.secondary_depth_ppm:.0f} ppm ({fmt(d.secondary_sigma, '.1f')} σ)"
    rows = [
        ("Period [d]", fmt_pm(d.period_days, d.period_err_days, ".6f")),
        ("Epoch t0 [BJD] (mission time)", t0),
        ("Duration [h]", fmt(d.duration_hours, ".3f")),
        ("Depth [ppm]", fmt_pm(d.depth_ppm, d.depth_err_ppm, ".0f")),
        ("SNR", fmt(d.snr, ".1f")),
        ("SDE", fmt(d.sde, ".1f")),
        ("Transits with data", fmt(d.n_transits, "d")),
        ("Odd/even depth difference [σ]", fmt(d.odd_even_sigma, ".2f")),
        ("Secondary eclipse depth", secondary),
        ("Transit shape", shape),
        ("Duration / expected for star", fmt(d.duration_ratio, ".2f")),
        ("Impact parameter", fmt(d.impact, ".2f")),
        ("Planet radius [R⊕]", fmt(d.planet_radius_rearth, ".2f")),
        ("Equilibrium temperature [K]", fmt(d.equilibrium_temp_k, ".0f")),
        (
            "Star Teff [K] / log g / R★ [R☉]",
            f"{fmt(d.star_teff_k, '.0f')} / {fmt(d.star_logg_cgs, '.2f')} / "
            f"{fmt(d.star_radius_rsun, '.2f')}",
        ),
        ("Star magnitude", fmt(d.star_mag, ".2f")),
    ]
    if d.flags:
        rows.append(("Flags", ", ".join(d.flags)))
    return rows
