"""The report's look: fonts, colours, matplotlib settings, titles, messages, axis limits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final, cast

import matplotlib
import numpy as np
from matplotlib.axes import Axes

from exoguard.reports.model import Diagnostics, ReportCurves

FONT: Final = 7.0
INK: Final = "#1a1a1a"
POINTS: Final = "#b4b4b4"
BINNED: Final = "#1f4e9c"
MODEL: Final = "#c0392b"
ODD: Final = "#1f77b4"
EVEN: Final = "#e67e22"
VERDICT_COLOURS: Final = {
    "planet": "#1e8449",
    "false_positive": "#b03a2e",
    "candidate": "#b9770e",
}
_RC: Final[dict[str, Any]] = {
    "font.size": FONT,
    "axes.titlesize": FONT + 0.5,
    "axes.labelsize": FONT,
    "xtick.labelsize": FONT - 0.5,
    "ytick.labelsize": FONT - 0.5,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.5,
    "ytick.major.width": 0.5,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "pdf.fonttype": 42,  # embedded TrueType: the text stays searchable and extractable
    "axes.formatter.useoffset": False,
}


_STYLE_LOCK = threading.RLock()


@contextmanager
def report_style() -> Iterator[None]:
    """Draw and save report figures inside this: the report's matplotlib settings, held
    by one thread at a time (``rcParams`` are process-global; savefig reads them too)."""
    with _STYLE_LOCK, matplotlib.rc_context(cast(Any, _RC)):
        yield


def robust_limits(
    values: np.ndarray, *, low_extra: float = 0.0, pad: float = 6.0
) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return -1.0, 1.0
    med = float(np.median(v))
    sigma = 1.4826 * float(np.median(np.abs(v - med))) or float(np.std(v)) or 1.0
    lo = min(float(np.percentile(v, 0.5)), med - pad * sigma, med - low_extra)
    hi = max(med + pad * sigma, float(np.percentile(v, 99.5)))
    span = hi - lo
    return lo - 0.05 * span, hi + 0.05 * span


def view_limits(
    points: np.ndarray, binned_y: np.ndarray, *, depth: float = 0.0
) -> tuple[float, float]:
    """Y limits of a folded view: from the points, unless their scatter would flatten the
    binned curve (many noisy points around a shallow transit): then from the bins."""
    lo_p, hi_p = robust_limits(points, low_extra=1.3 * depth)
    b = binned_y[np.isfinite(binned_y)]
    if b.size < 5:
        return lo_p, hi_p
    noise = 1.4826 * float(np.median(np.abs(b - np.median(b)))) or float(np.std(b)) or 1.0
    lo_b = min(float(b.min()), -1.1 * depth) - 4.0 * noise
    hi_b = max(float(b.max()), 0.3 * depth) + 4.0 * noise
    pad = 0.08 * (hi_b - lo_b)
    lo_b, hi_b = lo_b - pad, hi_b + pad
    if (hi_p - lo_p) > 2.5 * (hi_b - lo_b):
        return lo_b, hi_b
    return lo_p, hi_p


def panel_title(ax: Axes, text: str) -> None:
    ax.set_title(text, loc="left", fontsize=FONT + 0.5, fontweight="bold", pad=3)


def corner_note(ax: Axes, text: str) -> None:
    ax.text(
        0.98,
        0.96,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=FONT - 0.5,
        bbox={"boxstyle": "square,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
    )


def show_message(ax: Axes, text: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=FONT + 0.5,
        color="#555555",
        wrap=True,
    )


def depth_scale(diagnostics: Diagnostics, curves: ReportCurves) -> tuple[float, str]:
    """Flux unit for the folded views: ppm for shallow signals, percent for deep ones."""
    depth = diagnostics.depth_ppm
    if depth is None:
        inside = curves.detrended_flux
        depth = float(1e6 * (1.0 - np.nanpercentile(inside, 0.5))) if inside.size else 0.0
    if depth > 20_000:
        return 1e-4, "flux − 1 [%]"
    return 1.0, "flux − 1 [ppm]"
