"""Ablation of the multi-branch classifier: each branch switched off in turn.

Run: ``python bench/ablation.py`` trains ``base``, ``no_timeseries``, ``no_views`` and
``no_scalar`` on the same cached injected set (about 25 min of CPU on 2 cores) and prints
the table; ``python bench/ablation.py --versions multibranch-0003 multibranch-0002 ...``
prints it for versions already in the registry (their stored held-out figures).

Columns: held-out injected set (ROC AUC, ECE, uncertainty AUC), held-out Kepler catalog
stars (ROC AUC), TESS catalog rows (cross-mission ROC AUC), the real labelled light curves
(found objects scored on the right side of 0.5 or flagged uncertain), training seconds.
"""

from __future__ import annotations

import argparse
import json
import warnings
from typing import Any

from exoguard.config import get_settings
from exoguard.ml.multibranch.evaluate import ablation_row
from exoguard.ml.registry import ModelRegistry
from exoguard.store.model_registry import settings_registry

CONFIGS = ("base", "no_timeseries", "no_views", "no_scalar")


def _row(version: str, registry: ModelRegistry) -> dict[str, Any]:
    rec = registry.get(version)
    path = registry.artifact_dir(rec.id) / "metrics.json"
    metrics = json.loads(path.read_text()) if path.is_file() else dict(rec.metrics or {})
    row: dict[str, Any] = {"version": rec.id, "config": (rec.config or {}).get("name")}
    row.update(ablation_row(metrics))
    real = metrics.get("real_lightcurves") or {}
    found = [o for o in real.get("objects", []) if o.get("found")]
    row["real_ok"] = f"{sum(bool(o.get('meets_target')) for o in found)}/{len(found)}"
    row["train_s"] = metrics.get("train_seconds")
    return row


def _train(name: str) -> str:
    from exoguard.ml.multibranch.config_registry import get_config
    from exoguard.ml.multibranch.paths import DataPaths
    from exoguard.ml.multibranch.train import train_multibranch

    lightcurves_dir = get_settings().lightcurves_dir
    _, _, record = train_multibranch(
        get_config(name),
        paths=DataPaths.from_settings(get_settings()),
        registry=settings_registry(get_settings()),
        real_lightcurves_dir=lightcurves_dir,
    )
    return str(record.id)


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", nargs="*", help="summarise these registered versions")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    registry = settings_registry(get_settings())
    versions = args.versions or [_train(name) for name in CONFIGS]
    rows = [_row(v, registry) for v in versions]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    cols = [
        "version",
        "config",
        "injected_roc_auc",
        "injected_ece",
        "injected_uncertainty_auc",
        "kepler_holdout_roc_auc",
        "tess_roc_auc",
        "real_ok",
        "train_s",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [
            f"{r[c]:.4f}" if isinstance(r.get(c), float) and c != "train_s" else str(r.get(c))
            for c in cols
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
