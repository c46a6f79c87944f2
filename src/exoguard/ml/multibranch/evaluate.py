"""Evaluation of a multi-branch model: the catalog issue's metrics on every held-out set,
plus the quality of the uncertainty.

Sets
----
``injected_test``
    Injections into the light curves of stars never used in training.
``catalog.kepler_holdout``
    Labelled KOIs of stars held out of training (grouped by star), scalar branch alone.
``catalog.cross_mission.tess`` / ``.k2``
    Labelled TOIs and K2 objects (the model trained on Kepler rows only).
``real_lightcurves``
    The bundled real light curves: read → search → classify; every candidate matched to a
    catalog object (period ratio 1, 2 or 1/2 within 0.5 %) takes its label.
``injected_test_groups``
    The injected test rows by group (:func:`injected_group_report`): hosts of each mission
    (K2, Kepler, TESS), samples with one or two events in the span, samples with a second
    signal on the star; each with n, ROC AUC, ECE, the share flagged for human vetting
    and the confident-and-wrong rate.

Uncertainty quality
-------------------
``uncertainty_auc``: ROC AUC of the uncertainty for telling wrong predictions (label at
the 0.5 threshold differs from the truth) from right ones. ``conformal_coverage_90``: the
fraction of rows whose split-conformal 90 % prediction set holds the true label, with the
mean set size. ``nll``: mean negative log-likelihood.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from exoguard.ml.evaluate import binary_metrics
from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.predict import MultibranchModel, Prediction
from exoguard.ml.registry import ModelRegistry

logger = logging.getLogger(__name__)

Log = Callable[[str], None]


def uncertainty_quality(
    y: np.ndarray, pred: Prediction, *, threshold: float = 0.5
) -> dict[str, Any]:
    """Uncertainty AUC, conformal coverage and set sizes, NLL, flagged fraction."""
    y = np.asarray(y, dtype=int)
    p = np.clip(pred.probability, 1e-7, 1 - 1e-7)
    wrong = (p >= threshold).astype(int) != y
    auc = float(roc_auc_score(wrong, pred.uncertainty)) if 0 < wrong.sum() < len(wrong) else None
    sets = pred.prediction_set
    covered = np.where(sets == 2, True, np.where(sets == -1, False, sets == y))
    size = np.where(sets == 2, 2, np.where(sets == -1, 0, 1))
    flagged = pred.uncertain
    return {
        "uncertainty_auc": auc,
        "n_wrong": int(wrong.sum()),
        "mean_uncertainty": float(np.mean(pred.uncertainty)) if len(y) else None,
        "mean_uncertainty_right": float(np.mean(pred.uncertainty[~wrong]))
        if (~wrong).any()
        else None,
        "mean_uncertainty_wrong": float(np.mean(pred.uncertainty[wrong])) if wrong.any() else None,
        "conformal_coverage_90": float(np.mean(covered)) if len(y) else None,
        "conformal_mean_set_size": float(np.mean(size)) if len(y) else None,
        "flagged_uncertain_fraction": float(np.mean(flagged)) if len(y) else None,
        "accuracy_unflagged": float(np.mean(~wrong[~flagged])) if (~flagged).any() else None,
        "wrong_and_unflagged": int((wrong & ~flagged).sum()),
        "nll": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else None,
    }


def set_metrics(
    model: MultibranchModel, data: SampleArrays, *, pred: Prediction | None = None
) -> dict[str, Any] | None:
    """``binary_metrics`` (as the catalog issue) + :func:`uncertainty_quality` of labelled rows."""
    lab = data.y >= 0
    if not lab.any():
        return None
    pred = pred if pred is not None else model.predict(data)
    sub = Prediction(*(getattr(pred, f)[lab] for f in pred.__dataclass_fields__))
    y = data.y[lab].astype(int)
    out = binary_metrics(y, sub.probability, threshold=model.config.threshold, curves=True)
    out.update(uncertainty_quality(y, sub, threshold=model.config.threshold))
    if len(np.unique(data.kind[lab])) > 1:
        out["by_kind"] = {
            str(k): {
                "n": int((data.kind[lab] == k).sum()),
                "mean_probability": float(sub.probability[data.kind[lab] == k].mean()),
                "accuracy": float(
                    (
                        (sub.probability[data.kind[lab] == k] >= 0.5).astype(int)
                        == y[data.kind[lab] == k]
                    ).mean()
                ),
            }
            for k in np.unique(data.kind[lab])
        }
        # how well each kind of false positive is told from the planets
        planets = data.kind[lab] == "planet"
        for k, block in out["by_kind"].items():
            other = data.kind[lab] == k
            if k != "planet" and planets.any() and len(np.unique(y[other])) == 1:
                sel = planets | other
                if len(np.unique(y[sel])) == 2:
                    block["roc_auc_vs_planet"] = float(roc_auc_score(y[sel], sub.probability[sel]))
    return out


def group_figures(y: np.ndarray, pred: Prediction, *, threshold: float = 0.5) -> dict[str, Any]:
    """n, ROC AUC, ECE, flagged share and confident-and-wrong rate of labelled rows.

    A verdict is flagged by the default :class:`exoguard.ml.flagging.FlagRule` (the vetting
    queue's rule); ``confident_wrong_rate`` is the
    fraction of wrong verdicts (label at ``threshold``) among the verdicts *not* flagged.
    ROC AUC is None when the rows hold one class only.
    """
    from exoguard.ml.calibration import expected_calibration_error
    from exoguard.ml.flagging import FlagRule

    y = np.asarray(y, dtype=int)
    p = np.asarray(pred.probability, dtype=float)
    u = np.asarray(pred.uncertainty, dtype=float)
    n = len(y)
    if n == 0:
        return {"n": 0}
    flagged = FlagRule().flagged(p, u)
    wrong = (p >= threshold).astype(int) != y
    sure = ~flagged
    return {
        "n": n,
        "n_planet": int((y == 1).sum()),
        "roc_auc": float(roc_auc_score(y, p)) if 0 < y.sum() < n else None,
        "ece": float(expected_calibration_error(y, p)),
        "accuracy": float(np.mean(~wrong)),
        "flagged_fraction": float(np.mean(flagged)),
        "confident_wrong_rate": float(np.mean(wrong[sure])) if sure.any() else None,
        "n_confident_wrong": int((wrong & sure).sum()),
    }


def injected_group_report(
    model: MultibranchModel,
    data: SampleArrays,
    params: pd.DataFrame,
    *,
    pred: Prediction | None = None,
) -> dict[str, Any]:
    """:func:`group_figures` of the injected test rows: all, and each group of
    :func:`exoguard.ml.multibranch.injected_set.sample_groups` (``mission:k2``,
    ``mission:kepler``, ``mission:tess``, ``few_events``, ``multi_signal``).

    ``params`` are the rows' injection parameters (``InjectedSet.test_params``), in the
    order of ``data``.
    """
    from exoguard.ml.multibranch.injected_set import sample_groups

    if len(params) != len(data):
        raise ValueError(f"params has {len(params)} rows but data has {len(data)}")
    pred = pred if pred is not None else model.predict(data)
    y = data.y.astype(int)
    th = model.config.threshold

    def figures(mask: np.ndarray) -> dict[str, Any]:
        sub = Prediction(*(getattr(pred, f)[mask] for f in pred.__dataclass_fields__))
        return group_figures(y[mask], sub, threshold=th)

    out = {"all": figures(np.ones(len(y), dtype=bool))}
    for name, mask in sample_groups(params).items():
        out[name] = figures(np.asarray(mask, dtype=bool))
    return out


def format_group_report(groups: dict[str, Any]) -> list[str]:
    """One line per group of :func:`injected_group_report`."""

    def f(v: Any, fmt: str = ".3f") -> str:
        return "-" if v is None else format(v, fmt)

    lines = []
    for name, g in groups.items():
        if not g.get("n"):
            lines.append(f"{name:>15}: n=0")
            continue
        lines.append(
            f"{name:>15}: n={g['n']:5d} (planets {g['n_planet']:4d})  "
            f"ROC AUC {f(g['roc_auc'])}  ECE {f(g['ece'])}  "
            f"flagged {f(g['flagged_fraction'])}  "
            f"confident-and-wrong {f(g['confident_wrong_rate'])} ({g['n_confident_wrong']})"
        )
    return lines


def method_comparison(model: MultibranchModel, data: SampleArrays) -> dict[str, Any]:
    """Calibration and uncertainty quality of ``none`` (heteroscedastic spread alone) and
    ``mc_dropout`` on the same rows (``ensemble`` when the model has several members)."""
    lab = data.y >= 0
    d = data.subset(lab)
    y = d.y.astype(int)
    methods = ["none", "mc_dropout"] + (["ensemble"] if len(model.nets) > 1 else [])
    out = {}
    for m in methods:
        pred = model.predict(d, method=m)
        met = binary_metrics(y, pred.probability, threshold=model.config.threshold)
        q = uncertainty_quality(y, pred, threshold=model.config.threshold)
        out[m] = {k: met[k] for k in ("roc_auc", "brier", "ece", "accuracy")} | {
            k: q[k] for k in ("uncertainty_auc", "nll", "conformal_coverage_90", "mean_uncertainty")
        }
    return out


def real_lightcurve_report(
    model: MultibranchModel,
    *,
    frames: Sequence[pd.DataFrame],
    lightcurves_dir: Any,
    log: Log | None = None,
    ensemble_version: str | None = None,
    registry: ModelRegistry | None = None,
) -> dict[str, Any]:
    """Search and classify every bundled real light curve; match candidates to the catalog.

    With ``ensemble_version`` the probabilities are that decision-level ensemble's (whose
    network is ``model``)."""
    from exoguard.io import read_lightcurve
    from exoguard.ml.multibranch.classify import (
        _rescore_with_ensemble,
        prediction_records,
        prepare_lightcurve,
        target_files,
    )
    from exoguard.ml.multibranch.inputs import StarRow, star_lookup

    catalog = pd.concat(list(frames), ignore_index=True)
    stars = star_lookup(frames)
    rows: list[dict[str, Any]] = []
    objects_out: list[dict[str, Any]] = []
    y_all: list[int] = []
    parts: list[Any] = []
    for target, files in sorted(target_files(lightcurves_dir).items()):
        t0 = time.perf_counter()
        try:
            lc = read_lightcurve(files if len(files) > 1 else files[0])
            prep = prepare_lightcurve(
                lc,
                config=model.config,
                star=stars.get(lc.target_id),
                features=model.feature_names,
            )
        except Exception as exc:  # report, never abort the evaluation
            rows.append({"target": target, "error": str(exc)})
            continue
        objs = catalog[catalog["host_id"].astype(str) == target]
        pred, recs = prediction_records(model, prep.arrays, top=3)
        if ensemble_version is not None and prep.candidates:
            _rescore_with_ensemble(
                recs, prep, stars.get(lc.target_id) or StarRow(), ensemble_version, registry
            )
        matched_ids = _candidate_rows(target, prep, recs, pred, objs, rows, y_all, parts)
        objects_out.extend(_object_rows(target, objs, matched_ids))
        if log is not None:
            log(
                f"real {target}: {len(prep.candidates)} candidates in "
                f"{time.perf_counter() - t0:.1f} s"
            )
    return _real_summary(rows, objects_out, y_all, threshold=model.config.threshold)


def _candidate_rows(
    target: str,
    prep: Any,
    recs: list[dict[str, Any]],
    pred: Any,
    objs: pd.DataFrame,
    rows: list[dict[str, Any]],
    y_all: list[int],
    parts: list[Any],
) -> dict[str, dict[str, Any]]:
    """Append one row per candidate (catalog match beside the prediction) to ``rows``;
    return the best candidate row per labelled catalog object."""
    from exoguard.ml.multibranch.classify import match_catalog

    matched_ids: dict[str, dict[str, Any]] = {}
    for i, (c, r) in enumerate(zip(prep.candidates, recs, strict=True)):
        row_cat, ratio = match_catalog(c.period_days, objs)
        label = None if row_cat is None else str(row_cat["label"])
        rec = {
            "target": target,
            "candidate": c.object_id,
            "period_days": round(c.period_days, 6),
            "snr": None if not math.isfinite(c.snr) else round(c.snr, 2),
            "matched_object": None if row_cat is None else str(row_cat["object_id"]),
            "period_ratio": ratio,
            "catalog_label": label,
            "probability": r["probability"],
            "uncertainty": r["uncertainty"],
            "uncertain": r["uncertain"],
            "prediction_set_90": r["prediction_set_90"],
        }
        rows.append(rec)
        if label in ("planet", "false_positive"):
            y_all.append(1 if label == "planet" else 0)
            parts.append((prep.arrays.subset(np.array([i])), pred, i))
            assert row_cat is not None
            oid = str(row_cat["object_id"])
            best = matched_ids.get(oid)
            # the direct-period match wins over an alias
            if best is None or (ratio == 1.0 and best["period_ratio"] != 1.0):
                matched_ids[oid] = rec
    return matched_ids


def _object_rows(
    target: str, objs: pd.DataFrame, matched_ids: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per labelled catalog object of ``target``: found, and on the right side."""
    out: list[dict[str, Any]] = []
    for _, o in objs.iterrows():
        lab = str(o["label"])
        if lab not in ("planet", "false_positive"):
            continue
        found_rec = matched_ids.get(str(o["object_id"]))
        ok = None
        if found_rec is not None:
            right = (found_rec["probability"] > 0.5) == (lab == "planet")
            ok = bool(right or found_rec["uncertain"])
        out.append(
            {
                "object_id": str(o["object_id"]),
                "target": target,
                "label": lab,
                "catalog_period_days": float(o["period_days"]),
                "found": found_rec is not None,
                "probability": None if found_rec is None else found_rec["probability"],
                "uncertain": None if found_rec is None else found_rec["uncertain"],
                "meets_target": ok,
            }
        )
    return out


def _real_summary(
    rows: list[dict[str, Any]],
    objects_out: list[dict[str, Any]],
    y_all: list[int],
    *,
    threshold: float,
) -> dict[str, Any]:
    """Counts, the two acceptance checks and (with labelled matches) the metrics."""
    found = [o for o in objects_out if o["found"]]
    summary: dict[str, Any] = {
        "n_targets": len({r["target"] for r in rows}),
        "n_candidates": sum(1 for r in rows if "candidate" in r),
        "n_labelled_objects": len(objects_out),
        "n_found": len(found),
        "planets_above_0_5_or_uncertain": all(
            o["meets_target"] for o in found if o["label"] == "planet"
        ),
        "false_positives_below_0_5_or_uncertain": all(
            o["meets_target"] for o in found if o["label"] == "false_positive"
        ),
        "objects": objects_out,
        "candidates": rows,
    }
    if y_all:
        probs = np.array(
            [
                r["probability"]
                for r in rows
                if r.get("catalog_label") in ("planet", "false_positive")
            ]
        )
        y = np.array(y_all)
        summary["metrics"] = binary_metrics(y, probs, threshold=threshold)
    return summary


def ablation_row(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a report, for the ablation table."""
    inj = report.get("injected_test") or {}
    cat = (report.get("catalog") or {}).get("kepler_holdout") or {}
    tess = ((report.get("catalog") or {}).get("cross_mission") or {}).get("tess") or {}
    return {
        "injected_roc_auc": inj.get("roc_auc"),
        "injected_ece": inj.get("ece"),
        "injected_uncertainty_auc": inj.get("uncertainty_auc"),
        "kepler_holdout_roc_auc": cat.get("roc_auc"),
        "tess_roc_auc": tess.get("roc_auc"),
    }
