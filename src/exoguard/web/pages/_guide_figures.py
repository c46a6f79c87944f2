"""The field guide's charts: the bundled light curves of `exoguard.services.field_guide`'s cases.

Built once per process and data folder (reading four FITS files and detrending them takes
seconds), then served from memory.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from exoguard.errors import ExoguardError
from exoguard.io import read_lightcurve
from exoguard.reports.curves import build_curves
from exoguard.reports.model import Diagnostics
from exoguard.services.field_guide import (
    BKJD_OFFSET_DAYS,
    CASES,
    GuideCase,
    case_label,
    case_rows,
)
from exoguard.web.pages import _figures

log = logging.getLogger(__name__)


def _case_figures(data_dir: Path, case: GuideCase, row: dict[str, Any] | None) -> dict[str, Any]:
    path = data_dir / "lightcurves" / case.file
    eph = None
    if row is not None and case.koi is not None:
        duration = row.get("koi_duration")
        eph = _figures.Ephemeris(
            name=case.koi,
            period_days=float(row["koi_period"]),
            t0_bjd=float(row["koi_time0bk"]) + BKJD_OFFSET_DAYS,
            duration_hours=None if duration is None else float(duration),
            depth_ppm=None if row.get("koi_depth") is None else float(row["koi_depth"]),
        )
    lc = read_lightcurve(path)
    curves = build_curves(
        lc,
        Diagnostics(
            period_days=eph.period_days if eph else None,
            t0_bjd=eph.t0_bjd if eph else None,
            duration_hours=eph.duration_hours if eph else None,
        ),
        with_periodogram=False,
    )
    figures, missing = _figures.lightcurve_figures(
        time_bjd=np.asarray(curves.time_bjd),
        raw_flux=np.asarray(curves.raw_flux),
        detrended_flux=np.asarray(curves.detrended_flux),
        trend=None if curves.trend is None else np.asarray(curves.trend),
        mission=lc.mission,
        ephemerides=[eph] if eph else [],
        focus=eph,
    )
    return {
        "figures": {f"{case.key}:{name}": figures[name] for name in case.charts if name in figures},
        "missing": {f"{case.key}:{name}": missing[name] for name in case.charts if name in missing},
    }


_lock = threading.Lock()
_payloads: dict[tuple[str, int], dict[str, Any]] = {}


def guide_figures(data_dir: Path) -> dict[str, Any]:
    """Every chart of the field guide, ``{"figures": {"case:chart": fig}, "missing": {...}}``.

    Built once per data folder and index version, then served from memory.
    """
    index = data_dir / "lightcurves" / "index.csv"
    key = (str(data_dir.resolve()), index.stat().st_mtime_ns if index.is_file() else 0)
    with _lock:
        cached = _payloads.get(key)
        if cached is not None:
            return cached
        rows = case_rows(data_dir)
        figures: dict[str, Any] = {}
        missing: dict[str, str] = {}
        for case in CASES:
            row = rows.get(case.koi) if case.koi is not None else None
            label = case_label(data_dir, case)
            if label is None or not (data_dir / "lightcurves" / case.file).is_file():
                for name in case.charts:
                    missing[f"{case.key}:{name}"] = (
                        f"{case.file} or its catalog row is not in the data folder"
                    )
                continue
            try:
                part = _case_figures(data_dir, case, row)
            except (ExoguardError, OSError, ValueError) as exc:
                log.warning("field guide example %s unreadable: %s", case.key, exc)
                for name in case.charts:
                    missing[f"{case.key}:{name}"] = f"the light curve cannot be read: {exc}"
                continue
            figures.update(part["figures"])
            missing.update(part["missing"])
        payload = {"figures": figures, "missing": missing}
        _payloads[key] = payload
        return payload


__all__ = ["guide_figures"]
