"""The warm-up search compiles the kernels on a light curve where the answer is known."""

from __future__ import annotations

import numpy as np

from exoguard.core.search.multi import search_lightcurve
from exoguard.core.search.warmup import synthetic_lightcurve, warm_up


def test_warm_up_light_curve_holds_the_transit_the_search_finds() -> None:
    lc = synthetic_lightcurve(rng=np.random.default_rng(0))
    assert lc.n_points == 960
    result = search_lightcurve(lc, max_planets=1, min_period_days=1.0, max_period_days=5.0)
    assert result.candidates, "the 1 % transit every 3 d must be found"
    best = result.candidates[0]
    assert abs(best.period_days - 3.0) < 0.01
    assert warm_up() >= 0.0


def test_warmup_command_fills_the_cache_of_the_var_dir() -> None:
    """`make run` calls `exoguard warmup` before serving: the kernels are compiled into the
    on-disk cache under the var folder, so a freshly started server does not compile."""
    import json
    import os

    from typer.testing import CliRunner

    from exoguard.cli import app

    result = CliRunner().invoke(app, ["warmup", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["seconds"] >= 0.0
    assert out["numba_cache_dir"] == os.environ.get("NUMBA_CACHE_DIR", "")
