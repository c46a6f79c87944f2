"""Decision-level ensemble of the multi-branch network and the catalog GBM.

The two models' probabilities are stacked in logit space by a logistic regression with
separate weights for light-curve candidates and catalog rows:

``logit p = c + a·z_mb + b·z_gbm + has_lc·(c' + a'·z_mb + b'·z_gbm)``,

``z = logit(p)``. The stacker is fit on the multibranch model's validation rows; the GBM
that produces those probabilities (and the held-out figures) is a *shadow* GBM fit with the
registered GBM's config on the multibranch training stars only, so that no held-out row
was seen by either model. The deployed ensemble uses the registered GBM version.

The ensemble is registered as kind ``ensemble`` and becomes the active model only when it
beats both components on the pooled held-out rows (injected test set + held-out Kepler
stars): higher ROC AUC and lower log-loss.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

from exoguard.errors import ModelNotReadyError
from exoguard.jsonsafe import jsonable
from exoguard.ml.gbm import fit_ensemble
from exoguard.ml.missing import RAW_FIELDS, without_search_snr
from exoguard.ml.multibranch.paths import DataPaths
from exoguard.ml.patterns import PatternSet, fit_catalog_models
from exoguard.ml.registry import ModelRegistry, VersionRecord

logger = logging.getLogger(__name__)

KIND = "ensemble"
#: Share of the components' probability difference that counts as uncertainty: two models
#: 0.3 apart give 0.15 (the default vetting threshold).
DISAGREEMENT_WEIGHT = 0.5
_EPS = 1e-6
Log = Callable[[str], None]


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _design(p_mb: np.ndarray, p_gbm: np.ndarray, has_lc: np.ndarray) -> np.ndarray:
    z1, z2 = _logit(p_mb), _logit(p_gbm)
    h = np.asarray(has_lc, dtype=float)
    return np.column_stack([z1, z2, h, h * z1, h * z2])


@dataclass(frozen=True)
class DecisionEnsemble:
    """The stacker's coefficients (see the module docstring) and its components."""

    coef: tuple[float, ...]
    intercept: float
    mb_version: str
    gbm_version: str
    threshold: float = 0.5

    def combine(
        self,
        p_mb: np.ndarray,
        p_gbm: np.ndarray,
        has_lc: np.ndarray,
        *,
        unc_mb: np.ndarray | None = None,
        unc_gbm: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Probability and uncertainty, shapes (n,).

        The uncertainty is the average of the components' uncertainties weighted by the
        magnitude of their logit weights for the row's kind (light curve or catalog), with
        their disagreement, ``DISAGREEMENT_WEIGHT · |p_mb − p_gbm|``, added in quadrature.
        """
        x = _design(p_mb, p_gbm, has_lc)
        z = x @ np.asarray(self.coef) + self.intercept
        p = 1.0 / (1.0 + np.exp(-z))
        h = np.asarray(has_lc, dtype=bool)
        a = np.abs(self.coef[0] + np.where(h, self.coef[3], 0.0))
        b = np.abs(self.coef[1] + np.where(h, self.coef[4], 0.0))
        um = np.zeros(len(p)) if unc_mb is None else np.asarray(unc_mb, float)
        ug = np.zeros(len(p)) if unc_gbm is None else np.asarray(unc_gbm, float)
        unc = (a * um + b * ug) / np.maximum(a + b, 1e-12)
        # two models that disagree are not a confident verdict, whatever their weights
        disagreement = DISAGREEMENT_WEIGHT * np.abs(
            np.asarray(p_mb, float) - np.asarray(p_gbm, float)
        )
        return p, np.sqrt(unc**2 + disagreement**2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "coef": list(self.coef),
            "intercept": self.intercept,
            "mb_version": self.mb_version,
            "gbm_version": self.gbm_version,
            "threshold": self.threshold,
            "design": ["z_mb", "z_gbm", "has_lc", "has_lc*z_mb", "has_lc*z_gbm"],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecisionEnsemble:
        return cls(
            tuple(float(c) for c in d["coef"]),
            float(d["intercept"]),
            str(d["mb_version"]),
            str(d["gbm_version"]),
            float(d.get("threshold", 0.5)),
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ensemble.json").write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, directory: Path) -> DecisionEnsemble:
        try:
            return cls.from_dict(json.loads((directory / "ensemble.json").read_text()))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelNotReadyError(f"cannot load ensemble from {directory}: {exc}") from exc


def fit_stacker(
    p_mb: np.ndarray, p_gbm: np.ndarray, has_lc: np.ndarray, y: np.ndarray
) -> tuple[tuple[float, ...], float]:
    """Logistic-regression coefficients and intercept (mild L2)."""
    lr = LogisticRegression(C=10.0, max_iter=1000)
    lr.fit(_design(p_mb, p_gbm, has_lc), np.asarray(y, dtype=int))
    return tuple(float(c) for c in lr.coef_[0]), float(lr.intercept_[0])


def _gbm_matrix(data: Any, features: tuple[str, ...]) -> Any:
    """GBM features of SampleArrays rows (the catalog features lead the scalar matrix)."""
    names = list(data.feature_names)
    missing = [f for f in features if f not in names]
    if missing:
        raise ValueError(f"GBM features not in the multibranch scalar input: {missing}")
    cols = [names.index(f) for f in features]
    return pd.DataFrame(data.scalar[:, cols], columns=list(features))


def _raw_frame(data: Any) -> Any | None:
    """Harmonised raw fields of SampleArrays rows (the base catalog features of the scalar
    matrix carry the raw fields' names), or None when the scalar input lacks one."""
    names = list(data.feature_names)
    if not all(f in names for f in (*RAW_FIELDS, "n_candidates_on_host")):
        return None
    cols = {f: data.scalar[:, names.index(f)] for f in (*RAW_FIELDS, "n_candidates_on_host")}
    return pd.DataFrame(cols)


class _Shadow:
    """The shadow GBM as the service runs it: one model per missingness pattern when the
    scalar input lets the rows be routed, else the catalog model alone."""

    def __init__(self, data: Any, features: tuple[str, ...], config: Any) -> None:
        self.features = features
        X = _gbm_matrix(data, features)
        y = data.y.astype(int)
        frame = _raw_frame(data)
        self.patterns: PatternSet | None = None
        if frame is None:
            self.complete = fit_ensemble(X, y, data.group, config=config).model
            return
        fit, self.patterns = fit_catalog_models(
            frame,
            X,
            y,
            data.group,
            config=config,
            n_candidates_on_host=frame["n_candidates_on_host"].to_numpy(dtype=float),
        )
        self.complete = fit.model

    def predict(self, arr: Any) -> tuple[np.ndarray, np.ndarray]:
        frame = _raw_frame(arr) if self.patterns is not None else None
        if self.patterns is None or frame is None:
            p, u = self.complete.predict(_gbm_matrix(arr, self.features))
            return np.asarray(p), np.asarray(u)
        frame = without_search_snr(frame, arr.has_lc)  # as the service scores search rows
        scores = self.patterns.predict(
            frame, n_candidates_on_host=frame["n_candidates_on_host"].to_numpy(dtype=float)
        )
        return scores.probability, scores.uncertainty


def _scores(y: np.ndarray, p: np.ndarray, *, curves: bool = False) -> dict[str, Any]:
    both = len(np.unique(y)) == 2
    out: dict[str, Any] = {
        "n": int(len(y)),
        "roc_auc": float(roc_auc_score(y, p)) if both else None,
        "log_loss": float(log_loss(y, np.clip(p, _EPS, 1 - _EPS), labels=[0, 1])),
        "accuracy": float(((p >= 0.5).astype(int) == y).mean()) if len(y) else None,
    }
    if curves and both:  # confusion matrix, ECE and the curves the pages draw
        from exoguard.ml.evaluate import binary_metrics

        out = {**binary_metrics(y, p, curves=True), **out}
    return out


def best_multibranch(registry: Any) -> str:
    """The multibranch version to stack by default: among versions with every branch
    switched on (ablation runs excluded), the one with the highest held-out injected-set
    ROC AUC (the newest on ties or when none has the figure)."""
    from exoguard.ml.multibranch.configs import BRANCHES

    recs = [r for r in registry.list() if r.kind == "multibranch"]
    full = [
        r for r in recs if all((r.config or {}).get(b, {}).get("enabled", True) for b in BRANCHES)
    ]
    if not full:
        raise ModelNotReadyError(
            "no multibranch model with every branch enabled; train one with "
            "`exoguard train --model multibranch`"
        )

    def auc(r: Any) -> float:
        v = ((r.metrics or {}).get("injected_test") or {}).get("roc_auc")
        return float(v) if isinstance(v, int | float) else -1.0

    return str(max(enumerate(full), key=lambda ir: (auc(ir[1]), -ir[0]))[1].id)


def build_ensemble(
    mb_version: str | None = None,
    gbm_version: str | None = None,
    *,
    registry: ModelRegistry,
    data: Any | None = None,
    paths: DataPaths | None = None,
    log: Log | None = None,
) -> tuple[DecisionEnsemble, dict[str, Any]]:
    """Fit the stacker and measure ensemble vs components on held-out rows.

    ``data``: the multibranch version's ``TrainingData`` (rebuilt from its config and
    ``paths`` when None).

    Returns
    -------
    ensemble : DecisionEnsemble
    report : dict
        Held-out figures of ``multibranch``, ``gbm`` and ``ensemble`` per set and pooled,
        and ``better`` (the activation decision).
    """
    from exoguard.ml.configs import GBMConfig
    from exoguard.ml.multibranch.train import load_multibranch, prepare_data

    reg = registry
    mb, mb_rec = load_multibranch(mb_version or best_multibranch(reg), registry=reg)
    gbm_rec = _gbm_component(reg, gbm_version)
    gcfg = GBMConfig.model_validate(gbm_rec.config)
    features = gcfg.feature_names
    if data is None:  # the multibranch version's own training data (rebuilt or cached)
        data = prepare_data(mb.config, paths=paths, features=mb.feature_names)
    if log:
        log(f"ensemble: {mb_rec.id} + shadow of {gbm_rec.id} (features: {len(features)})")
    cat_train = data.train.subset(~data.train.has_lc & (data.train.y >= 0))
    shadow = _Shadow(cat_train, features, gcfg)

    def both(arr: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        pred = mb.predict(arr)
        pg, ug = shadow.predict(arr)
        return pred.probability, pg, pred.uncertainty, ug

    val = data.val.subset(data.val.y >= 0)
    pm, pg, _, _ = both(val)
    coef, intercept = fit_stacker(pm, pg, val.has_lc, val.y)
    ens = DecisionEnsemble(coef, intercept, mb_rec.id, gbm_rec.id, mb.config.threshold)
    sets = {
        "injected_test": data.injected.test,
        "kepler_holdout": data.catalog.kepler_test,
        **{f"cross_mission.{m}": a for m, a in data.catalog.cross_mission.items()},
    }
    report: dict[str, Any] = {
        "components": {"multibranch": mb_rec.id, "gbm": gbm_rec.id},
        "stacker": ens.to_dict(),
        **_held_out_scores(sets, both, ens),
    }
    return ens, report


def _gbm_component(reg: ModelRegistry, gbm_version: str | None) -> VersionRecord:
    """The named gbm version, else the active one when it is a gbm, else the newest gbm."""
    gbm_recs = [r for r in reg.list() if r.kind == "gbm"]
    gbm_rec: VersionRecord | None
    if gbm_version is not None:
        gbm_rec = reg.get(gbm_version)
    else:
        active = reg.active()
        gbm_rec = (
            active
            if active is not None and active.kind == "gbm"
            else (gbm_recs[0] if gbm_recs else None)
        )
    if gbm_rec is None:
        raise ModelNotReadyError("no gbm model; train one with `exoguard train --model gbm`")
    return gbm_rec


def _held_out_scores(
    sets: Mapping[str, Any],
    both: Callable[[Any], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    ens: DecisionEnsemble,
) -> dict[str, Any]:
    """Scores of the three models per set and pooled over the held-out sets; ``better``
    when the ensemble beats both components on pooled ROC AUC and log loss."""
    out: dict[str, Any] = {"sets": {}}
    pooled: dict[str, list[np.ndarray]] = {"y": [], "multibranch": [], "gbm": [], "ensemble": []}
    for name, arr in sets.items():
        arr = arr.subset(arr.y >= 0)
        if not len(arr):
            continue
        pm, pg, _, _ = both(arr)
        pe, _ = ens.combine(pm, pg, arr.has_lc)
        y = arr.y.astype(int)
        out["sets"][name] = {
            "multibranch": _scores(y, pm),
            "gbm": _scores(y, pg),
            "ensemble": _scores(y, pe, curves=True),
        }
        if name in ("injected_test", "kepler_holdout"):
            for k, v in (("y", y), ("multibranch", pm), ("gbm", pg), ("ensemble", pe)):
                pooled[k].append(v)
    y = np.concatenate(pooled["y"])
    out["pooled_heldout"] = {
        k: _scores(y, np.concatenate(pooled[k]), curves=k == "ensemble")
        for k in ("multibranch", "gbm", "ensemble")
    }
    pe_s = out["pooled_heldout"]["ensemble"]
    better = all(
        (pe_s["roc_auc"] or 0) > (out["pooled_heldout"][k]["roc_auc"] or 0)
        and pe_s["log_loss"] < out["pooled_heldout"][k]["log_loss"]
        for k in ("multibranch", "gbm")
    )
    out["better"] = bool(better)
    return out


def servable_kinds() -> tuple[str, ...]:
    """Model kinds the prediction service (``exoguard.ml.service``) can load when active:
    its ``SERVABLE_KINDS`` when it declares them, else ``("gbm",)``."""
    try:
        from exoguard.ml import service
    except ImportError:  # pragma: no cover
        return ()
    return tuple(getattr(service, "SERVABLE_KINDS", ("gbm",)))


def build_and_register(
    mb_version: str | None = None,
    gbm_version: str | None = None,
    *,
    registry: ModelRegistry,
    activate_if_better: bool = True,
    data: Any | None = None,
    paths: DataPaths | None = None,
    real_lightcurves_dir: Path | None = None,
    log: Log | None = None,
) -> dict[str, Any]:
    """Build, register (kind ``ensemble``) and activate when better; the record as a dict.

    ``real_lightcurves_dir`` (``settings.lightcurves_dir``): also search and score the real
    light curves under it with the ensemble (stored as ``real_lightcurves``; the activation
    decision stays on the held-out sets). ``data`` (the network's ``TrainingData``) is rebuilt
    from ``paths`` when None."""
    reg = registry
    ens, report = build_ensemble(
        mb_version, gbm_version, registry=reg, data=data, paths=paths, log=log
    )
    version_id = reg.next_version_id(KIND)
    directory = reg.artifact_dir(version_id)
    try:
        ens.save(directory)
        (directory / "metrics.json").write_text(json.dumps(jsonable(report), indent=2))
        # the pages show the GBM component's SHAP importance for an ensemble
        gbm_rec = reg.get(ens.gbm_version)
        for src in (Path(gbm_rec.artifact_path), reg.artifact_dir(gbm_rec.id)):
            if (src / "importance.json").is_file():
                shutil.copyfile(src / "importance.json", directory / "importance.json")
                break
        rec = reg.register(
            version_id=version_id,
            kind=KIND,
            config=ens.to_dict(),
            data_hash=f"{ens.mb_version}+{ens.gbm_version}",
            metrics=jsonable(report),
            activate_if_none=False,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    if real_lightcurves_dir is not None:
        from exoguard.ml.multibranch.catalog_sets import default_catalog_frames
        from exoguard.ml.multibranch.evaluate import real_lightcurve_report
        from exoguard.ml.multibranch.train import load_multibranch

        mb, _ = load_multibranch(ens.mb_version, registry=reg)
        if data is not None:
            frames = data.frames
        elif paths is not None:
            frames = default_catalog_frames(paths.catalogs_dir)
        else:
            raise ValueError("build_and_register needs data or paths for the real light curves")
        real_rep = real_lightcurve_report(
            mb,
            frames=frames,
            lightcurves_dir=real_lightcurves_dir,
            log=log,
            ensemble_version=version_id,
            registry=reg,
        )
        report["real_lightcurves"] = real_rep
        reg.update_metrics(version_id, {"real_lightcurves": jsonable(real_rep)})
        (directory / "metrics.json").write_text(json.dumps(jsonable(report), indent=2))
    servable = KIND in servable_kinds()
    if report["better"] and activate_if_better and servable:
        rec = reg.activate(version_id)
        if log:
            log(f"{version_id} beats both components on held-out data: activated")
    elif report["better"] and activate_if_better:
        report["not_activated_reason"] = (
            "exoguard.ml.service cannot serve kind 'ensemble' yet (SERVABLE_KINDS); "
            "activate it with `exoguard models activate` once it can"
        )
        if log:
            log(
                f"{version_id} beats both components on held-out data; "
                + report["not_activated_reason"]
            )
    elif log:
        log(f"{version_id} registered; not better than both components, not activated")
    return {"version": rec.to_dict(), "report": jsonable(report)}


def evaluate_version(
    version: str, *, registry: ModelRegistry, paths: DataPaths, log: Log | None = None
) -> dict[str, Any]:
    """Re-run the held-out comparison of a registered ensemble's components (their data
    rebuilt from ``paths``)."""
    reg = registry
    rec = reg.get(version)
    if rec.kind != KIND:
        raise ModelNotReadyError(f"{version} is a {rec.kind} model, not {KIND}")
    ens = DecisionEnsemble.from_dict(rec.config)
    _, report = build_ensemble(ens.mb_version, ens.gbm_version, registry=reg, paths=paths, log=log)
    report["version"] = version
    return jsonable(report)


def predict_frame(frame: Any, *, version: str | None = None, registry: ModelRegistry) -> Any:
    """Probability, uncertainty and label of harmonised catalog rows with a registered
    ensemble (multibranch scalar branch + the registered GBM): the prediction service's
    answer for that version."""
    from exoguard.ml.service import predict_frame as service_predict

    reg = registry
    rec = reg.get(version) if version else reg.require_active()
    if rec.kind != KIND:
        raise ModelNotReadyError(f"{rec.id} is a {rec.kind} model, not {KIND}")
    return service_predict(frame, version=rec.id, registry=reg)
