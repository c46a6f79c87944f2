"""JSON light curves. Accepted layouts:

* ``{"time": [...], "flux": [...], "flux_err": [...], "mission": ..., "target_id": ...,
  "time_system": ...}`` (columns as arrays, metadata as scalars);
* the same nested under ``"data"``, ``"lightcurve"`` or ``"light_curve"``, with the
  metadata at either level (or under ``"meta"``/``"metadata"``);
* a list of records ``[{"time": ..., "flux": ...}, ...]``;
* pandas ``orient="split"``: ``{"columns": [...], "data": [[...], ...]}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exoguard.core.lightcurve import LightCurve
from exoguard.errors import FormatError
from exoguard.io.registry import ReadOptions, read_text
from exoguard.io.table_common import table_to_lightcurve

_NESTED_KEYS = ("data", "lightcurve", "light_curve", "lc")
_META_KEYS = ("meta", "metadata", "header")


def _columns_and_meta(obj: Any, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(obj, list):
        if not obj:
            raise FormatError(f"{name}: empty JSON list")
        if not all(isinstance(r, dict) for r in obj):
            raise FormatError(f"{name}: a JSON list must hold records (objects)")
        keys: list[str] = []
        for r in obj:
            keys.extend(k for k in r if k not in keys)
        return {k: [r.get(k) for r in obj] for k in keys}, {}
    if not isinstance(obj, dict):
        raise FormatError(f"{name}: JSON must be an object or a list of records")
    if isinstance(obj.get("columns"), list) and isinstance(obj.get("data"), list):
        cols = [str(c) for c in obj["columns"]]
        rows = obj["data"]
        if not all(isinstance(r, list) and len(r) == len(cols) for r in rows):
            raise FormatError(f"{name}: 'data' rows do not match 'columns'")
        split_meta = {k: v for k, v in obj.items() if k not in ("columns", "data", "index")}
        return {c: [r[i] for r in rows] for i, c in enumerate(cols)}, split_meta
    meta: dict[str, Any] = {}
    for key in _META_KEYS:
        if isinstance(obj.get(key), dict):
            meta.update(obj[key])
    for key in _NESTED_KEYS:
        inner = obj.get(key)
        if isinstance(inner, dict | list):
            inner_cols, inner_meta = _columns_and_meta(inner, name)
            outer = {k: v for k, v in obj.items() if not isinstance(v, dict | list)}
            return inner_cols, {**outer, **meta, **inner_meta}
    columns = {k: v for k, v in obj.items() if isinstance(v, list)}
    meta.update({k: v for k, v in obj.items() if not isinstance(v, dict | list)})
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise FormatError(
            f"{name}: JSON arrays have different lengths "
            + ", ".join(f"{k}={len(v)}" for k, v in columns.items())
        )
    return columns, meta


def read_json_lightcurve(path: Path, opts: ReadOptions) -> LightCurve:
    """Read a JSON light curve into a raw LightCurve."""
    text = read_text(path, limits=opts.limits)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path.name}: invalid JSON ({exc})") from exc
    except RecursionError as exc:
        raise FormatError(f"{path.name}: invalid JSON (nested too deeply)") from exc
    del text
    columns, meta = _columns_and_meta(obj, path.name)
    n_rows = max((len(v) for v in columns.values() if isinstance(v, list)), default=0)
    opts.limits.check_rows(n_rows, name=path.name)
    return table_to_lightcurve(columns, opts, meta=meta, product="JSON")
