"""Stellar parameters written by the pipelines (KIC/TIC values) travel with the light curve
into the search, so a found candidate has a planet radius and stellar features."""

from __future__ import annotations

import math

import pytest

from exoguard.config import get_settings
from exoguard.core.search import search_transits
from exoguard.io import read_lightcurve

LC = get_settings().lightcurves_dir
TOI114 = LC / "tess" / "hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"
pytestmark = pytest.mark.skipif(not TOI114.exists(), reason="bundled NASA data missing")


def test_headers_give_the_star_and_stitching_keeps_it() -> None:
    lc = read_lightcurve(TOI114)
    star = lc.star_params
    assert star["radius_rsun"] == pytest.approx(1.27, abs=0.01)
    assert star["teff_k"] == pytest.approx(5800, abs=1)
    assert star["logg_cgs"] == pytest.approx(4.28, abs=0.01)
    assert star["mag"] == pytest.approx(10.555, abs=0.01)
    quarters = sorted((LC / "kepler").glob("kplr010797460-*_llc.fits"))[:2]
    stitched = read_lightcurve(quarters)
    assert stitched.star_params["radius_rsun"] > 0 and len(stitched.segment_labels) == 2


def test_candidates_carry_radius_from_the_header_star() -> None:
    lc = read_lightcurve(TOI114)
    best = search_transits(lc, max_planets=1)[0]
    row = best.to_harmonised()
    assert row["period_days"] == pytest.approx(3.28879, rel=1e-3)
    assert row["star_radius_rsun"] == pytest.approx(1.27, abs=0.01)
    # WASP-126 b: about 0.96 R_J = 10.8 R_earth (depth ~ 6,100 ppm on a 1.27 R_sun star)
    assert 8.0 < row["planet_radius_rearth"] < 13.0
    assert math.isfinite(row["equilibrium_temp_k"])
