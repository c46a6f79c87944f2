"""The synthetic survey: seeded, readable by the project's readers, with the injected signals
present at their stated depths and the hosts' own transits removed."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exoguard.config import get_settings
from exoguard.core.lightcurve import LightCurve
from exoguard.core.search.multi import search_lightcurve
from exoguard.core.signal_models import eclipsing_binary_model, inclination_deg, transit_model
from exoguard.io import read_lightcurve
from exoguard.survey.hosts import load_hosts
from exoguard.survey.signals import SurveyMix
from exoguard.survey.synthetic import (
    MANIFEST_COLUMNS,
    TRUTH_COLUMNS,
    generate_survey,
    main,
    read_truth,
)

DATA_DIR = get_settings().data_dir
pytestmark = pytest.mark.skipif(
    not (DATA_DIR / "lightcurves" / "index.csv").exists(), reason="bundled light curves not present"
)
STRONG_PLANETS = SurveyMix(
    planet_fraction=1.0,
    eb_fraction=0.0,
    kepler_fraction=0.0,
    noise_ppm_range=(400.0, 600.0),
    period_days_range=(2.0, 5.0),
    rp_rs_range=(0.06, 0.08),
)
BINARIES = SurveyMix(planet_fraction=0.0, eb_fraction=1.0, kepler_fraction=0.5)


def _fold_depth(lc: LightCurve, truth: dict[str, object], *, at_half: bool = False) -> tuple:
    """Mean drop (ppm) of the data and of the noise-free model over the central half of the
    eclipse, each relative to the median just outside it; and the 1-sigma error of the data's."""
    period, t0, dur = (float(truth[k]) for k in ("period_days", "t0_bjd", "duration_hours"))  # type: ignore[arg-type]
    centre = t0 + 0.5 * period if at_half else t0
    phase = np.remainder(lc.time_bjd - centre + 0.5 * period, period) - 0.5 * period
    inside = np.abs(phase) < 0.25 * dur / 24.0
    near = (np.abs(phase) > 0.75 * dur / 24.0) & (np.abs(phase) < 2.5 * dur / 24.0)
    common = {"period_days": period, "t0_bjd": t0, "a_rs": float(truth["a_rs"])}  # type: ignore[arg-type]
    u = (float(truth["u1"]), float(truth["u2"]))  # type: ignore[arg-type]
    if truth["kind"] == "planet":
        inc = inclination_deg(a_rs=common["a_rs"], impact=float(truth["impact"]))  # type: ignore[arg-type]
        model = transit_model(
            lc.time_bjd, **common, rp_rs=float(truth["rp_rs"]), inc_deg=inc, u=u,  # type: ignore[arg-type]
            cadence_s=lc.cadence_s,
        )  # fmt: skip
    else:
        model = eclipsing_binary_model(
            lc.time_bjd, **common, radius_ratio=float(truth["rp_rs"]),  # type: ignore[arg-type]
            impact=float(truth["impact"]), u=u,  # type: ignore[arg-type]
            surface_brightness_ratio=float(truth["surface_brightness_ratio"]),  # type: ignore[arg-type]
            cadence_s=lc.cadence_s,
        )  # fmt: skip
    measured = (1.0 - np.mean(lc.flux[inside]) / np.median(lc.flux[near])) * 1e6
    expected = (1.0 - np.mean(model[inside]) / np.median(model[near])) * 1e6
    scatter = 1.4826 * np.median(np.abs(np.diff(lc.flux[near]))) / math.sqrt(2.0)
    error = scatter / math.sqrt(inside.sum()) * 1e6
    return measured, expected, error


def test_same_seed_same_survey_and_star_i_independent_of_size(tmp_path: Path) -> None:
    a = generate_survey(tmp_path / "a", n_stars=4, seed=3, data_dir=DATA_DIR)
    b = generate_survey(tmp_path / "b", n_stars=3, seed=3, data_dir=DATA_DIR)
    c = generate_survey(tmp_path / "c", n_stars=3, seed=4, data_dir=DATA_DIR)
    assert a[:3] == b
    assert a[:3] != c
    for star in b:
        fa = read_lightcurve(tmp_path / "a" / star.path)
        fb = read_lightcurve(tmp_path / "b" / star.path)
        np.testing.assert_array_equal(fa.flux, fb.flux)
        np.testing.assert_array_equal(fa.time_bjd, fb.time_bjd)
    assert (tmp_path / "b" / "truth.csv").read_text() == "\n".join(
        (tmp_path / "a" / "truth.csv").read_text().splitlines()[:4]
    ) + "\n"


def test_manifest_and_truth_files_and_every_file_reads(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--n-stars", "12", "--seed", "0"]) == 0
    with (tmp_path / "manifest.csv").open(newline="") as handle:
        manifest = list(csv.DictReader(handle))
    with (tmp_path / "truth.csv").open(newline="") as handle:
        assert tuple(next(csv.reader(handle))) == TRUTH_COLUMNS
    truth = read_truth(tmp_path / "truth.csv")
    assert tuple(manifest[0]) == MANIFEST_COLUMNS
    assert len(manifest) == len(truth) == 12
    assert len({row["target"] for row in manifest}) == 12
    for row, star in zip(manifest, truth, strict=True):
        lc = read_lightcurve(tmp_path / row["path"])
        assert lc.target_id == row["target"] == star["target"]
        assert lc.mission == row["mission"] in ("tess", "kepler")
        # A TESS sector (2-min) or a 27.4-day Kepler window (30-min).
        assert lc.baseline_days == pytest.approx(27.4, abs=2.5)
        assert lc.n_points > (15_000 if lc.mission == "tess" else 900)
        assert dict(lc.star_params)["radius_rsun"] > 0  # the host's header travels along
        assert np.isfinite(lc.flux).all() and np.isfinite(lc.flux_err).all()
        if star["kind"] != "none":
            assert star["depth_ppm"] > 0 and star["duration_hours"] > 0  # type: ignore[operator]
            assert star["n_transits"] >= 1  # type: ignore[operator]
            assert lc.time_bjd[0] - 1e-9 <= star["t0_bjd"] <= lc.time_bjd[0] + star["period_days"]  # type: ignore[operator]


def test_injected_planet_depths_within_three_sigma_and_5_percent(tmp_path: Path) -> None:
    stars = generate_survey(tmp_path, n_stars=3, seed=1, mix=STRONG_PLANETS, data_dir=DATA_DIR)
    for star in read_truth(tmp_path / "truth.csv"):
        lc = read_lightcurve(tmp_path / str(star["path"]))
        measured, expected, error = _fold_depth(lc, star)
        assert expected > 2000
        # Tolerance: 3 sigma of the folded mean plus 5 % (the hosts' residual variability).
        assert abs(measured - expected) < 3 * error + 0.05 * expected, (star, measured, expected)
        # The stated (mid-transit, deepest) depth bounds the central-half mean from above.
        assert 0.7 * star["depth_ppm"] < expected <= star["depth_ppm"] * 1.001  # type: ignore[operator]
    assert {s.kind for s in stars} == {"planet"}


def test_binaries_have_primary_and_secondary_eclipses(tmp_path: Path) -> None:
    generate_survey(tmp_path, n_stars=4, seed=2, mix=BINARIES, data_dir=DATA_DIR)
    truth = read_truth(tmp_path / "truth.csv")
    assert {t["mission"] for t in truth} == {"tess", "kepler"}
    for star in truth:
        assert star["kind"] == "eb"
        lc = read_lightcurve(tmp_path / str(star["path"]))
        primary, expected, error = _fold_depth(lc, star)
        assert abs(primary - expected) < 3 * error + 0.05 * expected
        secondary, expected2, error2 = _fold_depth(lc, star, at_half=True)
        assert abs(secondary - expected2) < 3 * error2 + 0.05 * expected2 + 200
        assert star["secondary_depth_ppm"] < star["depth_ppm"]  # type: ignore[operator]


def test_hosts_own_transits_are_removed() -> None:
    tess, kepler = load_hosts(DATA_DIR)
    pi_men = next(h for h in tess if h.target == "TIC 261136679")
    t = pi_men.time_raw + pi_men.offset_bjd
    # pi Men c (TOI-144.01, from the bundled TOI table): its S1 transits are gone from the copy.
    toi = pd.read_csv(DATA_DIR / "catalogs" / "toi_2026-06-22.csv.gz", comment="#")
    row = toi[toi["toi"] == 144.01].iloc[0]
    toi_t0, period = float(row["pl_tranmid"]), float(row["pl_orbper"])
    phase = np.remainder(t - toi_t0 + 0.5 * period, period) - 0.5 * period
    assert np.isnan(pi_men.flux[np.abs(phase) < 0.04]).all()
    assert np.isfinite(pi_men.flux[np.abs(phase) > 0.3]).mean() > 0.9
    assert len(kepler) == 17 and {h.mission for h in kepler} == {"kepler"}


def test_search_recovers_a_strong_injected_planet(tmp_path: Path) -> None:
    generate_survey(tmp_path, n_stars=1, seed=1, mix=STRONG_PLANETS, data_dir=DATA_DIR)
    star = read_truth(tmp_path / "truth.csv")[0]
    result = search_lightcurve(read_lightcurve(tmp_path / str(star["path"])), max_planets=1)
    assert result.candidates
    best = result.candidates[0]
    assert best.period_days == pytest.approx(star["period_days"], rel=1e-3)
    phase = (best.t0_bjd - star["t0_bjd"]) / star["period_days"]  # type: ignore[operator]
    assert abs(phase - round(phase)) * star["period_days"] * 24 < 0.5  # type: ignore[operator]  # hours


def test_bad_mix_names_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"planet_fraction \+ eb_fraction must be <= 1"):
        SurveyMix(planet_fraction=0.7, eb_fraction=0.5)
    with pytest.raises(ValueError, match=r"kepler_fraction must be in \[0, 1\]"):
        SurveyMix(kepler_fraction=1.5)
    with pytest.raises(ValueError, match="n_stars must be >= 1"):
        generate_survey(Path("unused"), n_stars=0, data_dir=DATA_DIR)
