"""Path (e) of the paths evaluation: every labelled real light curve, through the web code.

Each file of ``lightcurves/index.csv`` (Kepler, TESS) and of ``lightcurves/k2_c4_dave/``
goes through exactly what an upload goes through — :func:`preprocessing.search_frame`
(read, star from the catalogs, transit search) and :func:`predictions.score_frame` with the
light curve (the network's branches for an ensemble or a network) — once alone and, for
stars with several files, all files stitched. Each signal found is cross-matched to the
ingested catalogs; a signal matched (host + period + epoch, not an alias) to an object with
an archive label (CONFIRMED/CP/KP planet; FALSE POSITIVE/FP/FA/REFUTED not) is scored.

The baseline is the plain eight-field LightGBM of :mod:`exoguard.ml.paths`, trained on the
labelled KOIs of every *other* star, given the same search rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from exoguard.catalogs import CatalogTable
from exoguard.config import Settings
from exoguard.ml.dataset import labelled_data
from exoguard.ml.features import ALL_FEATURES
from exoguard.ml.paths import FlagRule, baseline_predict, fit_baseline, path_metrics
from exoguard.services import predictions
from exoguard.services.catalog_match import match_and_fill, query_for_row
from exoguard.services.preprocess_schemas import SearchOptions
from exoguard.services.preprocessing import search_frame
from exoguard.store.db import session_scope

log = logging.getLogger(__name__)

PLANET_DISPOSITIONS: Final = frozenset({"CONFIRMED", "CP", "KP"})
FALSE_POSITIVE_DISPOSITIONS: Final = frozenset({"FALSE POSITIVE", "FP", "FA", "REFUTED"})
#: A confirmed planet below this probability and not flagged is a confident miss.
CONFIDENT_MISS_BELOW: Final = 0.2


def _host(target: str) -> str:
    return " ".join(str(target).split())


def lightcurve_units(lightcurves_dir: Path) -> list[tuple[str, str, list[Path]]]:
    """(mode, star, files): each file alone ("single"), and each star with several files
    stitched ("stitched"). Files of the K2 DAVE folder are included (own index)."""
    files: dict[str, list[Path]] = {}
    for index in (lightcurves_dir / "index.csv", lightcurves_dir / "k2_c4_dave" / "index.csv"):
        if not index.is_file():
            continue
        table = pd.read_csv(index)
        for _, row in table.iterrows():
            path = index.parent / str(row["file"])
            if path.is_file():
                files.setdefault(_host(row["target"]), []).append(path)
    units: list[tuple[str, str, list[Path]]] = []
    for star, paths in sorted(files.items()):
        units.extend(("single", star, [p]) for p in sorted(paths))
        if len(paths) > 1:
            units.append(("stitched", star, sorted(paths)))
    return units


def _label(disposition: str | None) -> int | None:
    text = (disposition or "").strip().upper()
    if text in PLANET_DISPOSITIONS:
        return 1
    if text in FALSE_POSITIVE_DISPOSITIONS:
        return 0
    return None


def _baseline(tables: Sequence[CatalogTable], stars: Sequence[str], *, seed: int) -> Any:
    data = labelled_data(tables, features=ALL_FEATURES, missions=["kepler"])
    keep = ~data.frame["host_id"].astype(str).isin(set(stars)).to_numpy()
    return fit_baseline(data.frame[keep], data.y[keep], seed=seed)


def lightcurve_path(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    tables: Sequence[CatalogTable],
    version: str,
    rule: FlagRule,
    log_fn: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Path (e), one entry per mode ("e_lightcurves_single", "e_lightcurves_stitched");
    ``tables`` (the loaded catalogs) train the baseline."""
    units = lightcurve_units(settings.lightcurves_dir)
    baseline = _baseline(tables, sorted({star for _, star, _ in units}), seed=settings.seed)
    records: list[dict[str, Any]] = []
    for i, (mode, star, files) in enumerate(units):
        try:
            searched = search_frame(
                files,
                factory=factory,
                dataset_id="paths-e0",
                options=SearchOptions(),
                progress=lambda _f, _m: None,
            )
        except Exception as exc:  # a file the reader refuses is reported, not fatal
            records.append({"mode": mode, "star": star, "error": f"{type(exc).__name__}: {exc}"})
            continue
        frame, lc_inputs = searched.frame, searched.inputs
        if not len(frame):
            continue
        scores = predictions.score_frame(
            frame, version=version, settings=settings, lightcurve=lc_inputs
        )
        with session_scope(factory) as session:
            queries = [query_for_row(row) for row in frame.to_dict("records")]
            _, context = match_and_fill(session, frame, queries, fill_star=False)
        p_base = baseline_predict(baseline, frame)
        for k, match in enumerate(context.matches):
            alias = bool(match.method and match.method.startswith("alias"))
            y = _label(match.disposition) if match.matched and not alias else None
            basis = scores["basis"].iat[k] if "basis" in scores.columns else {}
            records.append(
                {
                    "mode": mode,
                    "star": star,
                    "files": [f.name for f in files],
                    "period_days": float(frame["period_days"].iat[k]),
                    "match": match.summary(),
                    "object_id": match.object_id if match.matched else None,
                    "y": y,
                    "probability": float(scores["probability"].iat[k]),
                    "uncertainty": float(scores["uncertainty"].iat[k]),
                    "pattern": (basis or {}).get("pattern"),
                    "baseline_probability": float(p_base[k]),
                }
            )
        if log_fn and (i + 1) % 10 == 0:
            log_fn(f"path e: {i + 1} of {len(units)} light curves searched")
    return [_summary(records, mode, rule) for mode in ("single", "stitched")]


def _summary(records: list[dict[str, Any]], mode: str, rule: FlagRule) -> dict[str, Any]:
    rows = [r for r in records if r.get("mode") == mode and r.get("y") is not None]
    y = np.array([r["y"] for r in rows], dtype=int)
    p = np.array([r["probability"] for r in rows], dtype=float)
    u = np.array([r["uncertainty"] for r in rows], dtype=float)
    b = np.array([r["baseline_probability"] for r in rows], dtype=float)
    out: dict[str, Any] = {"path": f"e_lightcurves_{mode}", "n": len(rows)}
    if len(rows):
        out.update(path_metrics(y, p, u, rule=rule))
        out["baseline"] = path_metrics(y, b, np.zeros(len(b)), rule=rule)
        flagged = rule.flagged(p, u)
        out["confirmed_confident_misses"] = [
            {k: r[k] for k in ("star", "files", "period_days", "match", "probability")}
            for r, f in zip(rows, flagged, strict=True)
            if r["y"] == 1 and r["probability"] < CONFIDENT_MISS_BELOW and not f
        ]
    out["signals"] = [
        {
            k: r.get(k)
            for k in (
                "star",
                "files",
                "period_days",
                "match",
                "y",
                "probability",
                "uncertainty",
                "pattern",
                "error",
            )
        }
        for r in records
        if r.get("mode") == mode and (r.get("object_id") or r.get("error"))
    ]
    out["note"] = (
        "labelled real light curves through the web preprocessing and the active model; "
        + ("one file at a time" if mode == "single" else "all files of a star stitched")
    )
    return out


__all__ = ["lightcurve_path", "lightcurve_units"]
