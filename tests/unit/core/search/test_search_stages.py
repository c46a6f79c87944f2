"""The search reports where its time goes, and compiled kernels are cached where configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exoguard.core import numba_cache_dir
from exoguard.core.search.multi import search_lightcurve
from exoguard.core.search.warmup import synthetic_lightcurve

STAGES = {"detrend", "bls", "refine", "diagnostics", "single_event"}


def test_stage_times_cover_the_search_and_use_the_given_clock() -> None:
    lc = synthetic_lightcurve(rng=np.random.default_rng(3))
    result = search_lightcurve(lc, max_planets=2, min_period_days=1.0, max_period_days=5.0)
    assert result.candidates  # the 1 % box every 3 d
    assert set(result.stage_s) == STAGES
    assert all(v >= 0 for v in result.stage_s.values())
    assert result.stage_s["bls"] > 0 and result.stage_s["diagnostics"] > 0
    # The stages are inside the search: their sum cannot exceed its wall time.
    assert sum(result.stage_s.values()) <= result.elapsed_s + 1e-6
    ticks = iter(range(1_000_000))
    counted = search_lightcurve(
        lc, max_planets=1, min_period_days=1.0, max_period_days=5.0,
        stage_clock=lambda: float(next(ticks)),
    )  # fmt: skip
    # One tick per clock reading: every stage that ran took exactly one tick per run.
    assert counted.stage_s["detrend"] == 1.0 and counted.stage_s["bls"] == 1.0


def test_numba_cache_dir_follows_the_environment(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR",)}
    code = "import exoguard.core, os; print(os.environ['NUMBA_CACHE_DIR'])"
    src = str(Path(__file__).resolve().parents[4] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env["EXOGUARD_VAR_DIR"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(tmp_path / "numba-cache")
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "given")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == str(tmp_path / "given")


def test_numba_cache_dir_in_this_process() -> None:
    assert numba_cache_dir() == Path(os.environ["NUMBA_CACHE_DIR"])
    numba = pytest.importorskip("numba")
    assert Path(numba.config.CACHE_DIR) == numba_cache_dir()
