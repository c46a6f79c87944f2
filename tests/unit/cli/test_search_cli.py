"""`exoguard search` and `exoguard inject-recover` on the bundled light curves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from exoguard.cli import app
from exoguard.config import get_settings
from exoguard.errors import ExoguardError

TOI_114 = "tess/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"
KEPLER_664 = "kepler_lightkurve_exports/kic010854555_lightkurve.fits"
QUIET_KEPLER = "kepler_lightkurve_exports/kic011818800_lightkurve.fits"


def _path(rel: str) -> str:
    path = get_settings().lightcurves_dir / rel
    if not path.exists():
        pytest.skip(f"bundled light curve {path.name} not found")
    return str(path)


def test_search_json_schema() -> None:
    result = CliRunner().invoke(app, ["search", _path(TOI_114), "--json", "--max-planets", "2"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # stdout holds only the JSON
    (target,) = payload["targets"]
    assert target["target"] == "TIC 25155310"
    assert target["mission"] == "tess"
    assert target["n_points"] > 15_000
    cand = target["candidates"][0]
    for key in (
        "period_days", "t0_bjd", "duration_hours", "depth_ppm", "depth_err_ppm", "snr", "sde",
        "n_transits", "odd_even_sigma", "secondary_depth_ppm", "secondary_sigma", "shape",
        "duration_ratio", "alias_of", "single_transit",
    ):  # fmt: skip
        assert key in cand
    assert cand["period_days"] == pytest.approx(3.28879, rel=1e-3)
    assert cand["t0_bjd"] > 2_458_000  # BJD_TDB, not BTJD
    assert cand["depth_ppm"] == pytest.approx(6100, rel=0.15)
    assert cand["shape"] == "U"


def test_search_several_targets_and_text_output() -> None:
    result = CliRunner().invoke(
        app, ["search", _path(KEPLER_664), _path(QUIET_KEPLER), "--max-planets", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "KIC 10854555 (kepler" in result.stdout
    assert "KIC 11818800 (kepler" in result.stdout
    assert "KIC 10854555.01: P=2.525" in result.stdout


def test_search_astropy_engine() -> None:
    result = CliRunner().invoke(
        app,
        ["search", _path(KEPLER_664), "--json", "--engine", "astropy", "--max-planets", "1"],
    )
    assert result.exit_code == 0, result.output
    (target,) = json.loads(result.stdout)["targets"]
    assert target["engine"] == "astropy"
    assert target["candidates"][0]["period_days"] == pytest.approx(2.525592, rel=1e-3)


def test_search_rejects_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    bad_engine = runner.invoke(app, ["search", _path(TOI_114), "--engine", "gpu"])
    assert bad_engine.exit_code == 2
    assert "fast, astropy" in bad_engine.output
    missing = runner.invoke(app, ["search", str(tmp_path / "nope.fits")])
    assert missing.exit_code != 0
    assert isinstance(missing.exception, ExoguardError)
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    corrupt = runner.invoke(app, ["search", str(junk)])
    assert corrupt.exit_code != 0
    assert isinstance(corrupt.exception, ExoguardError)


@pytest.mark.slow
def test_inject_recover_ours_at_least_as_many_as_astropy_autoperiod(tmp_path: Path) -> None:
    """Same injections (seeded), same SDE threshold: our engine on the Ofir grid against astropy
    BoxLeastSquares on its autoperiod grid."""
    result = CliRunner().invoke(
        app,
        [
            "inject-recover", _path(QUIET_KEPLER), "--periods", "1.7,6.1", "--radii", "4.5,5.5",
            "--seed", "42", "--json", "--out", str(tmp_path), "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    summary = payload["summary"]
    assert summary["fast"]["n_injected"] == summary["astropy"]["n_injected"] == 4
    assert summary["fast"]["n_recovered"] >= summary["astropy"]["n_recovered"]
    assert summary["fast"]["n_recovered"] >= 2
    assert summary["fast"]["total_search_s"] < summary["astropy"]["total_search_s"]
    for name in ("completeness.csv", "trials.csv", "completeness.png"):
        assert (tmp_path / name).stat().st_size > 0
    with (tmp_path / "completeness.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["engine"] for r in rows} == {"fast", "astropy"}
    assert len(rows) == 8
    assert (tmp_path / "completeness.png").read_bytes()[:4] == b"\x89PNG"
