"""Catalog classifier benchmark: training time, predictions per second, SHAP time.

Run: ``python bench/catalog.py [--config default] [--json]``. Targets on a 2-core machine:
training on all labelled KOIs < 60 s, >= 50,000 predictions/s on 10,000 candidates,
SHAP contributions for 1,000 candidates < 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import pandas as pd

from exoguard.catalogs import load_default_catalogs
from exoguard.config import get_settings
from exoguard.ml.configs import apply_overrides, get_config
from exoguard.ml.dataset import labelled_data
from exoguard.ml.explain import shap_contributions
from exoguard.ml.features import build_features
from exoguard.ml.gbm import fit_ensemble, n_boosters_to_fit

TARGETS = {"train_s": 60.0, "predictions_per_s": 50_000.0, "shap_s_per_1000": 2.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="default")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = apply_overrides(get_config(args.config), args.param)

    koi, toi, k2 = load_default_catalogs(get_settings().catalogs_dir)
    data = labelled_data([koi], features=cfg.feature_names, missions=["kepler"])

    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_ensemble(data.X, data.y, data.groups, config=cfg)
    train_s = time.perf_counter() - t0
    train_cpu_s = time.process_time() - c0

    # 10,000 candidates: every KOI/TOI/K2 row, repeated to 10,000 (features built once)
    frames = pd.concat([koi.frame, toi.frame, k2.frame], ignore_index=True)
    rng = np.random.default_rng(0)
    cand = frames.iloc[rng.integers(0, len(frames), size=10_000)].reset_index(drop=True)
    t0 = time.perf_counter()
    X = build_features(cand, features=fit.model.features)
    feat_s = time.perf_counter() - t0
    fit.model.predict(X.iloc[:100])  # warm-up
    best = best_cpu = np.inf
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        fit.model.predict(X)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    pred_per_s = len(X) / best
    pred_per_cpu_s = len(X) / best_cpu
    pred_incl_features_per_s = len(X) / (best + feat_s)

    X1000 = X.iloc[:1000]
    shap_best = shap_cpu = np.inf
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        shap_contributions(fit.model, X1000)
        shap_best = min(shap_best, time.perf_counter() - t0)
        shap_cpu = min(shap_cpu, time.process_time() - c0)

    result = {
        "config": cfg.name,
        "n_boosters_trained": n_boosters_to_fit(cfg),
        "n_train_rows": len(data),
        "train_s": round(train_s, 2),
        "train_cpu_s": round(train_cpu_s, 2),
        "predictions_per_s": round(pred_per_s),
        "predictions_per_cpu_s": round(pred_per_cpu_s),
        "predictions_per_s_including_features": round(pred_incl_features_per_s),
        "shap_s_per_1000": round(shap_best, 3),
        "shap_cpu_s_per_1000": round(shap_cpu, 3),
        "targets": TARGETS,
        "meets": {
            "train_s": train_s < TARGETS["train_s"],
            "predictions_per_s": pred_per_s >= TARGETS["predictions_per_s"],
            "shap_s_per_1000": shap_best < TARGETS["shap_s_per_1000"],
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_1m": os.getloadavg()[0],
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"training on {len(data)} labelled KOIs ({result['n_boosters_trained']} boosters): "
        f"{train_s:.1f} s wall, {train_cpu_s:.1f} s CPU (target < {TARGETS['train_s']:.0f} s)"
    )
    print(
        f"predictions on 10,000 candidates: {pred_per_s:,.0f}/s wall, "
        f"{pred_per_cpu_s:,.0f}/s of CPU time ({pred_incl_features_per_s:,.0f}/s wall "
        f"including feature building; target >= {TARGETS['predictions_per_s']:,.0f}/s)"
    )
    print(
        f"SHAP for 1,000 candidates: {shap_best:.3f} s wall, {shap_cpu:.3f} s CPU "
        f"(target < {TARGETS['shap_s_per_1000']} s)"
    )
    print("(wall-clock figures depend on other load; CPU-time figures are single-threaded)")
    print(f"machine: {os.cpu_count()} CPUs, 1-min load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
