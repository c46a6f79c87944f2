"""Host light curves of the injected set: real light curves used as noise.

Host light curves are the real FITS files of ``settings.lightcurves_dir`` and the DAVE
K2 Campaign 4 text files under it (one host per file; its star is the group). Every
catalog signal known on the host (KOI/TOI/K2 rows of any disposition) is cut out
(``known_transit_mask_durations`` durations wide) and the rest is detrended once (wotan
biweight, the search's default window). A host whose star has a catalog object without
an ephemeris to cut (EPIC 210827030.01, a K2 false positive with no period in the
bundled table) never receives a planet-labelled sample: its own signal stays in, so it
only serves false-positive samples. Hosts are split by star into training and held-out
test stars (:func:`split_stars`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from exoguard.core.detrend import detrend
from exoguard.core.inject import (
    transit_mask,
)
from exoguard.core.lightcurve import LightCurve, point_to_point_scatter
from exoguard.errors import ValidationError
from exoguard.ml.multibranch.inputs import (
    StarRow,
    star_lookup,
)

logger = logging.getLogger(__name__)

#: A host whose relative flux is <= 0 on more than this fraction of points is refused.
MAX_NONPOSITIVE_FRACTION = 0.01


@dataclass(frozen=True, eq=False)
class Host:
    """A real light curve used as noise for injections.

    Attributes
    ----------
    name : str
        File name.
    star : str
        Target id (the group: a star's files always share a split).
    raw : LightCurve
        Cleaned, normalised light curve with the known transits cut out.
    trend : ndarray, shape (raw.n_points,)
        Its biweight trend (``raw.flux / trend`` is flat).
    window_days : float
        The detrending window.
    star_row : StarRow
    planet_ok : bool
        False when the star holds a catalog signal that could not be cut out (no
        ephemeris): no planet-labelled sample is drawn on it.
    """

    name: str
    star: str
    raw: LightCurve
    trend: np.ndarray
    window_days: float
    star_row: StarRow
    planet_ok: bool = True
    noise: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "noise", point_to_point_scatter(self.raw.flux / self.trend))

    def crop(self, start_bjd: float, end_bjd: float) -> Host:
        """The same host restricted to ``start_bjd <= t < end_bjd``."""
        keep = (self.raw.time_bjd >= start_bjd) & (self.raw.time_bjd < end_bjd)
        return Host(
            self.name,
            self.star,
            self.raw.select(keep),
            self.trend[keep],
            self.window_days,
            self.star_row,
            self.planet_ok,
        )

    @property
    def flat(self) -> LightCurve:
        return self.raw.with_flux(self.raw.flux / self.trend, self.raw.flux_err / self.trend)


def search_window_days(lc: LightCurve) -> float:
    """The biweight window the transit search uses by default for this light curve."""
    from exoguard.core.search.grid import make_grid
    from exoguard.core.search.multi import default_window_days

    return float(default_window_days(make_grid(lc.time_bjd)))


def make_host(
    lc: LightCurve,
    *,
    catalog: pd.DataFrame | None,
    stars: dict[str, StarRow],
    mask_durations: float = 2.5,
) -> Host:
    """Cut the catalog's known signals of ``lc``'s star out and detrend the rest.

    Raises
    ------
    ValidationError
        More than ``MAX_NONPOSITIVE_FRACTION`` of the relative flux is zero or negative (a
        broken reduction, e.g. DAVE's EPIC 210667985): not a noise host.
    """
    nonpositive = float(np.mean(lc.flux <= 0)) if lc.n_points else 0.0
    if nonpositive > MAX_NONPOSITIVE_FRACTION:
        raise ValidationError(
            f"{lc.target_id}: {100 * nonpositive:.0f} % of the relative flux is <= 0 "
            f"(at most {100 * MAX_NONPOSITIVE_FRACTION:.0f} % allowed); not a noise host"
        )
    mask = np.zeros(lc.n_points, dtype=bool)
    planet_ok = True
    if catalog is not None and len(catalog):
        rows = catalog[catalog["host_id"].astype(str).str.strip() == lc.target_id]
        for r in rows.itertuples(index=False):
            p, t0, dur = float(r.period_days), float(r.t0_bjd), float(r.duration_hours)
            if not (math.isfinite(p) and p > 0 and math.isfinite(t0)):
                # a known signal we cannot cut: keep it out of planet-labelled samples
                planet_ok = False
                continue
            dur = dur if math.isfinite(dur) and dur > 0 else 6.0
            mask |= transit_mask(
                lc.time_bjd, period_days=p, t0_bjd=t0, duration_hours=dur, factor=mask_durations
            )
    raw = lc.with_mask(mask, note=f"cut {int(mask.sum())} points of known signals")
    window = search_window_days(raw)
    flat, trend = detrend(raw, window_days=window)
    del flat
    return Host(
        name=(lc.sources[0] if lc.sources else lc.target_id),
        star=lc.target_id,
        raw=raw,
        trend=np.asarray(trend, dtype=float),
        window_days=window,
        star_row=stars.get(lc.target_id, StarRow()),
        planet_ok=planet_ok,
    )


#: File patterns of host light curves: FITS products and DAVE K2 text files.
HOST_PATTERNS = ("*.fits", "ktwo*.dat")


def host_files(lightcurves_dir: Path) -> list[Path]:
    """Every FITS file and DAVE K2 ``ktwo*.dat`` file under ``lightcurves_dir`` (sorted)."""
    return sorted({p for pat in HOST_PATTERNS for p in lightcurves_dir.rglob(pat) if p.is_file()})


def load_hosts(
    files: Sequence[Path],
    *,
    catalog: pd.DataFrame | None,
    stars: dict[str, StarRow],
    mask_durations: float = 2.5,
) -> list[Host]:
    """Read, clean and prepare every file as a host (files that cannot be read are skipped)."""
    from exoguard.io import read_lightcurve

    hosts = []
    for path in files:
        try:
            lc = read_lightcurve(path)
            hosts.append(make_host(lc, catalog=catalog, stars=stars, mask_durations=mask_durations))
        except Exception as exc:  # one bad file must not stop training
            logger.warning("skipping host %s: %s", path.name, exc)
    return hosts


def split_stars(hosts: Sequence[Host], *, test_fraction: float, seed: int) -> dict[str, str]:
    """Star → ``"train"``/``"test"``: per mission, a seeded ``test_fraction`` of the stars
    (at least one when the mission has two or more) is held out."""
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    by_mission: dict[str, list[str]] = {}
    for h in hosts:
        by_mission.setdefault(h.raw.mission, [])
        if h.star not in by_mission[h.raw.mission]:
            by_mission[h.raw.mission].append(h.star)
    for mission in sorted(by_mission):
        stars = sorted(by_mission[mission])
        order = rng.permutation(len(stars))
        n_test = int(round(test_fraction * len(stars)))
        n_test = min(max(n_test, 1), len(stars) - 1) if len(stars) >= 2 else 0
        for rank, i in enumerate(order):
            out[stars[i]] = "test" if rank < n_test else "train"
    return out


def default_hosts(
    frames: Sequence[pd.DataFrame], *, lightcurves_dir: Path, mask_durations: float = 2.5
) -> list[Host]:
    """Hosts from every FITS and DAVE K2 file of ``lightcurves_dir`` (:func:`host_files`);
    ``frames`` are the catalogs whose signals are cut out (:func:`default_catalog_frames`)."""
    frames = list(frames)
    catalog = pd.concat(frames, ignore_index=True)
    files = host_files(lightcurves_dir)
    if not files:
        raise ValidationError(
            f"no light-curve files under {lightcurves_dir}; "
            "set EXOGUARD_DATA_DIR to the shared data"
        )
    return load_hosts(
        files, catalog=catalog, stars=star_lookup(frames), mask_durations=mask_durations
    )
