"""What the web layer and jobs call: predict and explain harmonised candidate frames.

Every servable model kind answers the same calls (:data:`SERVABLE_KINDS`):

* ``gbm``: the catalog classifier; SHAP explanations.
* ``multibranch``: the neural network's scalar branch (a catalog row has no light curve);
  occlusion explanations (:func:`exoguard.ml.multibranch.occlusion.occlusion_contributions`).
* ``ensemble``: the decision-level stack of the two (:mod:`exoguard.ml.ensemble`);
  explained by the SHAP values of its GBM component.

Models are loaded from the registry once and kept in a small in-process cache (the active
version id is looked up on every call, so an activation elsewhere takes effect at once).
"""

from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from exoguard.errors import ModelNotReadyError
from exoguard.ml.explain import BASE_VALUE, shap_contributions
from exoguard.ml.features import build_features
from exoguard.ml.missing import PATTERNS, basis_sentences, without_search_snr
from exoguard.ml.patterns import OOD_UNCERTAINTY
from exoguard.ml.registry import ModelRegistry, VersionRecord
from exoguard.ml.train import LoadedModel, load_version

if TYPE_CHECKING:
    from exoguard.core.search.passes import DetrendedCurve

#: Model kinds this service can load, predict with and explain.
SERVABLE_KINDS = ("gbm", "multibranch", "ensemble")

_CACHE_SIZE = 4
_cache: OrderedDict[str, Any] = OrderedDict()
_lock = threading.Lock()


#: Records of explicitly named versions, per registry. A version's kind, config and
#: artifacts never change once registered, so scoring reads its record once instead of one
#: database query per call; the cached ``status`` may be stale and is not read here.
_records: weakref.WeakKeyDictionary[ModelRegistry, dict[str, VersionRecord]] = (
    weakref.WeakKeyDictionary()
)


def clear_cache() -> None:
    """Forget loaded models and version records (tests; after artifacts change on disk)."""
    with _lock:
        _cache.clear()
        _records.clear()


def version_record(version: str | None = None, *, registry: ModelRegistry) -> VersionRecord:
    """The registry record of ``version`` (the active one when None), of a servable kind."""
    if version is None:
        record = registry.require_active()
    else:
        with _lock:
            cached = _records.get(registry, {}).get(version)
        record = cached if cached is not None else registry.get(version)
        if cached is None and record.kind in SERVABLE_KINDS:
            with _lock:
                _records.setdefault(registry, {})[version] = record
    if record.kind not in SERVABLE_KINDS:
        raise ModelNotReadyError(
            f"model {record.id!r} is of kind {record.kind!r}; servable kinds: "
            + ", ".join(SERVABLE_KINDS)
        )
    return record


def _cached(key: str, load: Any) -> Any:
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    obj = load()
    with _lock:
        _cache[key] = obj
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return obj


def _load_multibranch(version: str, registry: ModelRegistry) -> Any:
    from exoguard.ml.multibranch.train import load_multibranch

    return _cached(version, lambda: load_multibranch(version, registry=registry)[0])


def _ensemble(record: VersionRecord) -> Any:
    from exoguard.ml.ensemble import DecisionEnsemble

    return DecisionEnsemble.from_dict(record.config)


def get_model(version: str | None = None, *, registry: ModelRegistry) -> LoadedModel:
    """The loaded GBM of ``version`` (the active one when None), cached.

    For an ensemble, its GBM component; a multibranch version has none
    (``ModelNotReadyError``).
    """
    record = version_record(version, registry=registry)
    if record.kind == "ensemble":
        record = version_record(_ensemble(record).gbm_version, registry=registry)
    if record.kind != "gbm":
        raise ModelNotReadyError(f"model {record.id!r} is a {record.kind} model, not a gbm")
    vid = record.id
    return _cached(vid, lambda: load_version(vid, registry=registry))  # type: ignore[no-any-return]


def _host_counts(frame: pd.DataFrame) -> np.ndarray | None:
    """A complete ``n_candidates_on_host`` column of ``frame`` (None: count ``host_id``)."""
    if "n_candidates_on_host" in frame.columns:
        given = pd.to_numeric(frame["n_candidates_on_host"], errors="coerce")
        if given.notna().all():
            return np.asarray(given.to_numpy(dtype=float))
    return None


def feature_matrix(frame: pd.DataFrame, model: LoadedModel) -> pd.DataFrame:
    """Features of ``frame`` in the model's column order.

    ``n_candidates_on_host`` is taken from a column of that name when the frame has one
    (e.g. a single candidate typed in by hand), else counted over ``host_id`` in the frame.
    """
    return build_features(
        frame, features=model.ensemble.features, n_candidates_on_host=_host_counts(frame)
    )


@dataclass(frozen=True)
class LightCurveInputs:
    """The light curve behind a frame of search candidates, for the network's light-curve
    branches.

    ``candidates`` are the ``TransitCandidate`` objects of the search, one per frame row in
    the same order; ``star`` holds ``StarParams`` keyword arguments (known values only).
    """

    lc: Any
    candidates: Sequence[Any]
    star: Mapping[str, float] = field(default_factory=dict)
    #: Inputs already built by ``candidate_arrays`` for this model's config: (kept, arrays).
    prepared: tuple[np.ndarray, Any] | None = None
    #: The biweight window the search detrended with (None: its default for ``lc``), so
    #: the network's inputs are detrended as the search's were.
    window_days: float | None = None
    #: The search's last detrended curve (``SearchResult.last_detrended``): the network's
    #: inputs take it instead of detrending again when its mask is theirs.
    detrended: DetrendedCurve | None = None


def _empty(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"probability": [], "uncertainty": [], "label": [], "model_version": []},
        index=frame.index,
    )


def _gbm_scores(
    frame: pd.DataFrame, model: LoadedModel
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """(probability, uncertainty, basis) of every row; the basis names the pattern model
    that scored the row, the fields it used and any input outside its training range."""
    if model.patterns is None:  # a version trained before missingness patterns
        prob, unc = model.ensemble.predict(feature_matrix(frame, model))
        basis: list[dict[str, Any]] = [
            {"pattern": "complete", "out_of_range": []} for _ in range(len(frame))
        ]
        return np.asarray(prob, float), np.asarray(unc, float), basis
    scores = model.patterns.predict(frame, n_candidates_on_host=_host_counts(frame))
    basis = [
        {
            "pattern": str(pattern),
            "inputs": list(PATTERNS.get(str(pattern), ())),
            "out_of_range": ood,
        }
        for pattern, ood in zip(scores.pattern, scores.out_of_range, strict=True)
    ]
    for b in basis:
        b["summary"] = basis_sentences(b)
    return scores.probability, scores.uncertainty, basis


def _multibranch_scores(
    frame: pd.DataFrame, version: str, registry: ModelRegistry
) -> tuple[np.ndarray, np.ndarray, float]:
    from exoguard.ml.multibranch.classify import score_catalog_frame

    mb = _load_multibranch(version, registry)
    pred = score_catalog_frame(mb, frame)
    return pred.probability, pred.uncertainty, float(mb.config.threshold)


def _lightcurve_scores(
    frame: pd.DataFrame, version: str, registry: ModelRegistry, lightcurve: LightCurveInputs
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """The network on search candidates with their light curve (rows whose inputs cannot be
    built fall back to the scalar branch); (probability, uncertainty, threshold, has_lc)."""
    from exoguard.ml.multibranch.classify import candidate_arrays
    from exoguard.ml.multibranch.inputs import StarRow

    if len(lightcurve.candidates) != len(frame):
        raise ValueError(
            f"{len(lightcurve.candidates)} light-curve candidates for {len(frame)} frame rows"
        )
    mb = _load_multibranch(version, registry)
    if lightcurve.prepared is not None:
        kept, arrays = lightcurve.prepared
    else:
        star = StarRow(
            **{
                k: float(lightcurve.star.get(k, math.nan))
                for k in ("teff_k", "logg_cgs", "radius_rsun", "mag")
            }
        )
        kept, arrays, _, _ = candidate_arrays(
            lightcurve.lc,
            list(lightcurve.candidates),
            config=mb.config,
            star=star,
            window_days=lightcurve.window_days,
            features=mb.feature_names,
            detrended=lightcurve.detrended,
        )
    prob = np.zeros(len(frame))
    unc = np.zeros(len(frame))
    if kept.any():
        pred = mb.predict(arrays)
        prob[kept], unc[kept] = pred.probability, pred.uncertainty
    if not kept.all():  # no light-curve inputs: the scalar branch alone
        p_cat, u_cat, _ = _multibranch_scores(frame[~kept], version, registry)
        prob[~kept], unc[~kept] = p_cat, u_cat
    return prob, unc, float(mb.config.threshold), kept


def predict_frame(
    frame: pd.DataFrame,
    *,
    version: str | None = None,
    registry: ModelRegistry,
    lightcurve: LightCurveInputs | None = None,
) -> pd.DataFrame:
    """Probability of being a planet, its uncertainty and the label, one row per input row.

    Returns
    -------
    DataFrame, index of ``frame``
        ``probability`` (calibrated, 0–1), ``uncertainty`` (a standard deviation of the
        probability: spread of the GBM ensemble members; for the network, MC dropout and
        its predicted logit spread), ``label`` ("planet" when probability >= the model
        threshold, else "false_positive") and ``model_version``.

    With ``lightcurve`` (the frame's rows are search candidates of that light curve), a
    multibranch or ensemble version also runs the network's light-curve branches; a GBM
    ignores it.
    """
    record = version_record(version, registry=registry)
    if len(frame) == 0:
        return _empty(frame)
    basis: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    catalog_view = without_search_snr(frame) if lightcurve is not None else frame
    if record.kind == "gbm":
        model = get_model(record.id, registry=registry)
        prob, unc, basis = _gbm_scores(catalog_view, model)
        threshold = model.ensemble.threshold
    elif record.kind == "multibranch":
        if lightcurve is not None:
            prob, unc, threshold, _ = _lightcurve_scores(frame, record.id, registry, lightcurve)
        else:
            prob, unc, threshold = _multibranch_scores(frame, record.id, registry)
    else:
        ens = _ensemble(record)
        if lightcurve is not None:
            p_mb, u_mb, _, has_lc = _lightcurve_scores(frame, ens.mb_version, registry, lightcurve)
        else:
            p_mb, u_mb, _ = _multibranch_scores(frame, ens.mb_version, registry)
            has_lc = np.zeros(len(frame), bool)
        p_gbm, u_gbm, basis = _gbm_scores(
            catalog_view, get_model(ens.gbm_version, registry=registry)
        )
        prob, unc = ens.combine(p_mb, p_gbm, has_lc, unc_mb=u_mb, unc_gbm=u_gbm)
        # inputs off the catalog model's map stay flagged whatever the weights
        off = np.array([bool(b.get("out_of_range")) for b in basis])
        unc = np.where(off, np.sqrt(unc**2 + OOD_UNCERTAINTY**2), unc)
        for b, lc, pm, pg in zip(basis, has_lc, p_mb, p_gbm, strict=True):
            b["light_curve"] = bool(lc)
            b["components"] = {"network": float(pm), "gbm": float(pg)}
            b["summary"] = basis_sentences(b)
        threshold = ens.threshold
    label = np.where(prob >= threshold, "planet", "false_positive")
    return pd.DataFrame(
        {
            "probability": prob,
            "uncertainty": unc,
            "label": label,
            "model_version": record.id,
            "basis": basis,
        },
        index=frame.index,
    )


def _explained(
    frame: pd.DataFrame, version: str | None, registry: ModelRegistry
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contributions with ``base_value``, feature values) of every row of ``frame``."""
    record = version_record(version, registry=registry)
    if record.kind == "multibranch":
        from exoguard.ml.multibranch.classify import catalog_inputs
        from exoguard.ml.multibranch.occlusion import occlusion_contributions

        mb = _load_multibranch(record.id, registry)
        arr = catalog_inputs(mb, frame)
        logit, contrib, labels = occlusion_contributions(mb, arr)
        names = list(mb.feature_names)
        out = pd.DataFrame(contrib[:, : len(names)], columns=names, index=frame.index)
        # occlusion is not additive: the base value closes the sum to the model's logit
        out[BASE_VALUE] = logit - out.sum(axis=1).to_numpy()
        values = pd.DataFrame(arr.scalar, columns=names, index=frame.index)
        return out, values
    model = get_model(record.id, registry=registry)
    if model.patterns is None:
        X = feature_matrix(frame, model)
        return shap_contributions(model.ensemble, X), X
    # each row explained by the pattern model that scored it; a feature that model does not
    # use (an absent field) is NaN in both frames: it contributes nothing
    names = list(model.ensemble.features)
    contrib = pd.DataFrame(np.nan, index=frame.index, columns=[*names, BASE_VALUE])
    values = pd.DataFrame(np.nan, index=frame.index, columns=names)
    for name, pos, X in model.patterns.matrices(frame, n_candidates_on_host=_host_counts(frame)):
        part = shap_contributions(model.patterns.models[name].ensemble, X)
        idx = frame.index[pos]
        contrib.loc[idx, part.columns] = part.to_numpy()
        values.loc[idx, X.columns] = X.to_numpy()
    return contrib, values


def explain_frame(
    frame: pd.DataFrame, *, version: str | None = None, registry: ModelRegistry
) -> pd.DataFrame:
    """Contributions (log-odds) of every feature for every row, plus ``base_value``.

    Positive contributions push towards "planet". GBM: SHAP, ``base_value + row sum`` is
    the ensemble's mean log-odds before calibration. Ensemble: the SHAP values of its GBM
    component. Multibranch: occlusion (each feature set to its training mean), with
    ``base_value`` chosen so that ``base_value + row sum`` is the network's logit.
    """
    return _explained(frame, version, registry)[0]


def explain_with_inputs(
    frame: pd.DataFrame, *, version: str | None = None, registry: ModelRegistry
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`explain_frame` and the feature values it attributes (same index), in one pass."""
    return _explained(frame, version, registry)


def explain_records(
    frame: pd.DataFrame,
    *,
    version: str | None = None,
    top: int = 5,
    registry: ModelRegistry,
) -> list[dict[str, Any]]:
    """JSON-ready explanations: feature values and the ``top`` contributions of each row."""
    contrib, X = _explained(frame, version, registry)
    out = []
    for idx in frame.index:
        row = contrib.loc[idx].drop(labels=[BASE_VALUE]).dropna()
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
    version: str | None = None, *, registry: ModelRegistry
) -> list[dict[str, Any]]:
    """Mean |contribution| per feature stored with the version at training time (SHAP for a
    GBM and an ensemble's GBM component, occlusion for a multibranch network)."""
    record = version_record(version, registry=registry)
    if record.kind == "multibranch":
        import json
        from pathlib import Path

        for directory in (Path(record.artifact_path), registry.artifact_dir(record.id)):
            path = directory / "importance.json"
            if path.is_file():
                data = json.loads(path.read_text())
                return list(data) if isinstance(data, list) else []
        return []
    return get_model(record.id, registry=registry).importance
