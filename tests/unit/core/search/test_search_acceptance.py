"""Acceptance: `exoguard search` finds every labelled signal with >= 3 transits in the bundled data.

The light curves and catalog periods come from ``lightcurves/index.csv`` under the data
directory (``get_settings().lightcurves_dir``). A signal counts as found when a candidate's period
is within 0.1 % of the catalog period, or when a candidate flagged ``alias_of`` another sits at
an integer ratio of it. Each target is searched once (through the CLI, ``--json``) and shared by
its objects.
"""

from __future__ import annotations

import csv
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exoguard.cli import app
from exoguard.config import get_settings

pytestmark = pytest.mark.slow

#: (object, target in index.csv, max planets to search for)
OBJECTS: list[tuple[str, str, int]] = [
    ("K00752.01", "KIC 10797460", 2),  # Kepler-227 b, 17 quarters stitched
    ("K00752.02", "KIC 10797460", 2),  # Kepler-227 c
    ("K00001.01", "KIC 11446443", 3),  # Kepler-1 b
    ("K00002.01", "KIC 10666592", 3),  # Kepler-2 b
    ("TOI-144.01", "TIC 261136679", 3),  # pi Men c
    ("TOI-114.01", "TIC 25155310", 3),
    ("TOI-247.01", "TIC 160148385", 3),
    ("K00756.01", "KIC 10872983", 3),  # Kepler-228 d
    ("K00756.02", "KIC 10872983", 3),  # Kepler-228 c
    ("K00755.01", "KIC 10854555", 3),  # Kepler-664 b
    ("K00780.01", "KIC 11918099", 3),  # Kepler-675 b
    ("K00754.01", "KIC 10848459", 3),  # false positive
    ("K00742.01", "KIC 10419211", 3),  # false positive
    ("K00114.01", "KIC 6721123", 3),  # false positive
]

REL_TOL = 1e-3


def _index() -> list[dict[str, str]]:
    path = get_settings().lightcurves_dir / "index.csv"
    if not path.exists():
        pytest.skip(f"bundled light curves not found ({path.name} missing)")
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _catalog_period(obj: str) -> float:
    for row in _index():
        for item in row["period_days"].split(";"):
            name, _, value = item.strip().partition(":")
            if name == obj:
                return float(value)
    raise LookupError(obj)


def _files(target: str) -> list[Path]:
    base = get_settings().lightcurves_dir
    return [base / row["file"] for row in _index() if row["target"] == target]


@cache
def _search(target: str, max_planets: int) -> tuple[dict[str, Any], float]:
    files = [str(p) for p in _files(target)]
    start = time.perf_counter()
    result = CliRunner().invoke(
        app, ["search", *files, "--json", "--max-planets", str(max_planets), "--no-progress"]
    )
    elapsed = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (target_out,) = payload["targets"]
    return target_out, elapsed


def _is_found(candidate: dict[str, Any], period: float) -> bool:
    ratio = candidate["period_days"] / period
    if abs(ratio - 1.0) <= REL_TOL:
        return True
    if candidate["alias_of"] is None:
        return False
    for n in (2, 3, 4, 5):
        if abs(ratio - n) <= REL_TOL * n or abs(ratio - 1 / n) <= REL_TOL / n:
            return True
    return False


@pytest.mark.parametrize(("obj", "target", "max_planets"), OBJECTS, ids=[o[0] for o in OBJECTS])
def test_labelled_signal_is_found(obj: str, target: str, max_planets: int) -> None:
    period = _catalog_period(obj)
    out, _ = _search(target, max_planets)
    assert out["target"] == target
    found = [c for c in out["candidates"] if _is_found(c, period)]
    listing = [(round(c["period_days"], 5), round(c["sde"], 1)) for c in out["candidates"]]
    assert found, f"{obj} (P={period} d) not found in {target}; candidates: {listing}"
    best = found[0]
    assert best["n_transits"] >= 3
    assert best["depth_ppm"] > 0 and best["snr"] > 0


def test_kepler_227_stitched_and_fast_enough() -> None:
    out, elapsed = _search("KIC 10797460", 2)
    assert out["n_points"] > 60_000
    assert out["baseline_days"] > 1400
    assert len(out["sources"]) == 17
    # Two full searches (0.5 d to half the baseline) plus detrending, refinement, diagnostics.
    # The acceptance target is < 60 s per search on the 2-core machine; allow for a busy one.
    assert elapsed < 240, f"two search passes took {elapsed:.0f} s"
