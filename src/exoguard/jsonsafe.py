"""Strict JSON from results that hold numpy scalars, arrays and non-finite floats.

``json.dumps`` writes ``NaN`` and ``Infinity``, which are not JSON (browsers and ``jq``
refuse them), and cannot encode numpy types. :func:`jsonable` turns every such value into
what JSON can hold: a missing measurement becomes ``null``.

Examples
--------
>>> import numpy as np
>>> jsonable({"depth_ppm": np.float64("nan"), 3: (np.int64(2), np.array([1.5, np.inf]))})
{'depth_ppm': None, '3': [2, [1.5, None]]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` with mappings as dicts (keys as str), sequences and arrays as lists, numpy
    scalars as Python numbers and NaN/inf as None, recursively."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
