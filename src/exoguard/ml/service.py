"""What the web layer and jobs call: predict and explain harmonised candidate frames.

Models are loaded from the registry once and kept in a small in-process cache (the active
version id is looked up on every call, so an activation elsewhere takes effect at once).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from exoguard.ml.explain import BASE_VALUE, shap_contributions
from exoguard.ml.features import build_features
from exoguard.ml.registry import ModelRegistry
from exoguard.ml.train import LoadedModel, load_version

_CACHE_SIZE = 3
_cache: OrderedDict[str, LoadedModel] = OrderedDict()
_lock = threading.Lock()


#: Seconds a registry (its store choice and database engine) is reused between calls.
_REGISTRY_TTL_S = 30.0
_registry_cache: dict[tuple[str, str], tuple[float, ModelRegistry]] = {}


def clear_cache() -> None:
    """Forget loaded models and registries (tests; after artifacts change on disk)."""
    with _lock:
        _cache.clear()
        _registry_cache.clear()


def default_registry() -> ModelRegistry:
    """The settings' registry, reused for ``_REGISTRY_TTL_S`` seconds."""
    from exoguard.config import get_settings

    settings = get_settings()
    key = (settings.database_url, str(settings.models_path))
    now = time.monotonic()
    with _lock:
        hit = _registry_cache.get(key)
        if hit is not None and now - hit[0] < _REGISTRY_TTL_S:
            return hit[1]
    registry = ModelRegistry.from_settings()
    with _lock:
        _registry_cache[key] = (now, registry)
    return registry


def get_model(version: str | None = None, *, registry: ModelRegistry | None = None) -> LoadedModel:
    """The loaded model of ``version`` (the active one when None), cached."""
    registry = registry or default_registry()
    vid = version if version is not None else registry.require_active().id
    with _lock:
        if vid in _cache:
            _cache.move_to_end(vid)
            return _cache[vid]
    model = load_version(vid, registry=registry)
    with _lock:
        _cache[vid] = model
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model


def feature_matrix(frame: pd.DataFrame, model: LoadedModel) -> pd.DataFrame:
    """Features of ``frame`` in the model's column order.

    ``n_candidates_on_host`` is taken from a column of that name when the frame has one
    (e.g. a single candidate typed in by hand), else counted over ``host_id`` in the frame.
    """
    counts = None
    if "n_candidates_on_host" in frame.columns:
        given = pd.to_numeric(frame["n_candidates_on_host"], errors="coerce")
        if given.notna().all():
            counts = given.to_numpy(dtype=float)
    return build_features(frame, features=model.ensemble.features, n_candidates_on_host=counts)


def predict_frame(
    frame: pd.DataFrame, *, version: str | None = None, registry: ModelRegistry | None = None
) -> pd.DataFrame:
    """Probability of being a planet, its uncertainty and the label, one row per input row.

    Returns
    -------
    DataFrame, index of ``frame``
        ``probability`` (calibrated, 0–1), ``uncertainty`` (std of the calibrated ensemble
        members), ``label`` ("planet" when probability >= the model threshold, else
        "false_positive") and ``model_version``.
    """
    model = get_model(version, registry=registry)
    if len(frame) == 0:
        return pd.DataFrame(
            {"probability": [], "uncertainty": [], "label": [], "model_version": []},
            index=frame.index,
        )
    X = feature_matrix(frame, model)
    prob, unc = model.ensemble.predict(X)
    label = np.where(prob >= model.ensemble.threshold, "planet", "false_positive")
    return pd.DataFrame(
        {"probability": prob, "uncertainty": unc, "label": label, "model_version": model.version},
        index=frame.index,
    )


def explain_frame(
    frame: pd.DataFrame, *, version: str | None = None, registry: ModelRegistry | None = None
) -> pd.DataFrame:
    """SHAP contributions (log-odds) of every feature for every row, plus ``base_value``.

    Positive contributions push towards "planet". ``base_value + row sum`` is the ensemble's
    mean log-odds before calibration.
    """
    model = get_model(version, registry=registry)
    X = feature_matrix(frame, model)
    return shap_contributions(model.ensemble, X)


def explain_records(
    frame: pd.DataFrame,
    *,
    version: str | None = None,
    top: int = 5,
    registry: ModelRegistry | None = None,
) -> list[dict[str, Any]]:
    """JSON-ready explanations: feature values and the ``top`` contributions of each row."""
    model = get_model(version, registry=registry)
    X = feature_matrix(frame, model)
    contrib = shap_contributions(model.ensemble, X)
    out = []
    for idx in frame.index:
        row = contrib.loc[idx].drop(labels=[BASE_VALUE])
        order = row.abs().sort_values(ascending=False).index[:top]
        out.append(
            {
                "base_value": float(contrib.loc[idx, BASE_VALUE]),
                "top": [
                    {
                        "feature": f,
                        "value": None if pd.isna(X.loc[idx, f]) else float(X.loc[idx, f]),
                        "contribution": float(row[f]),
                    }
                    for f in order
                ],
            }
        )
    return out


def global_importance(
    version: str | None = None, *, registry: ModelRegistry | None = None
) -> list[dict[str, Any]]:
    """Mean |SHAP| per feature stored with the version at training time."""
    return get_model(version, registry=registry).importance
