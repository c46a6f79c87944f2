"""Strict JSON from results with numpy values and missing measurements."""

from __future__ import annotations

import json
import math

import numpy as np

from exoguard.jsonsafe import jsonable


def test_jsonable_gives_strict_json() -> None:
    value = {
        "period_days": np.float64(3.5),
        "n_transits": np.int64(4),
        "flag": np.bool_(True),
        "depth_ppm": float("nan"),
        "snr": np.float32("inf"),
        7: (1.0, -math.inf, np.array([[0.5, np.nan]])),
        "nested": [{"x": np.nan}],
        "name": "Kepler-10 b ☉",
    }
    out = jsonable(value)
    text = json.dumps(out, allow_nan=False)  # raises on NaN/inf
    assert json.loads(text) == {
        "period_days": 3.5,
        "n_transits": 4,
        "flag": True,
        "depth_ppm": None,
        "snr": None,
        "7": [1.0, None, [[0.5, None]]],
        "nested": [{"x": None}],
        "name": "Kepler-10 b ☉",
    }
    assert type(out["n_transits"]) is int and type(out["period_days"]) is float
    assert value["depth_ppm"] != value["depth_ppm"]  # the input is left as it was
