"""Multi-branch classifier benchmark: training time, inference rate, model size.

Run: ``python bench/multibranch.py [--config base] [--epochs N] [--design-epochs 1] [--json]``.

* training: the injected set comes from the cache (its one-time generation time is reported
  separately when it has to be built); the model trains on the same rows as
  ``exoguard train --model multibranch``. ``--epochs N`` times N epochs and extrapolates to
  the config's epoch budget. The ``design`` config (the original design's sizes) is timed
  for ``--design-epochs`` epochs and extrapolated the same way.
* inference: candidates per second through the network with the config's uncertainty
  (30 Monte-Carlo dropout passes of the head), on light-curve candidates of the held-out
  injected set, and for catalog rows; plus the rate of building the inputs of a candidate
  from a detrended light curve (views, diagnostics, binned series).
* size: parameters, bytes of the float32 weights and of the checkpoint on disk.
* held-out injected test by group (K2, Kepler and TESS hosts, one or two events, a second
  signal on the star): n, ROC AUC, ECE, share flagged for vetting, confident-and-wrong
  rate, of the model trained here (with ``--epochs N`` that is an N-epoch model).

Targets on this 2-core machine: default config trained in < 30 min, >= 200 candidates/s.
Both wall and CPU seconds are printed: the machine is shared, so wall time includes waiting.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from exoguard.config import get_settings
from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
from exoguard.ml.multibranch.evaluate import format_group_report, injected_group_report
from exoguard.ml.multibranch.fit import fit_model
from exoguard.ml.multibranch.model import count_parameters
from exoguard.ml.multibranch.paths import DataPaths
from exoguard.ml.multibranch.predict import MultibranchModel
from exoguard.ml.multibranch.train import prepare_data

TARGETS = {"train_min": 30.0, "candidates_per_s": 200.0}


def _timed(fn: Any) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def time_training(cfg: Any, data: Any, epochs: int | None) -> dict[str, Any]:
    budget = cfg.training.epochs
    run_cfg = (
        cfg if epochs is None else apply_overrides(cfg, [f"epochs={epochs}", f"patience={epochs}"])
    )
    (model, logs), wall, cpu = _timed(lambda: fit_model(run_cfg, data.train, data.val))
    n = max(len(logs), 1)
    return {
        "config": cfg.name,
        "epochs_timed": len(logs),
        "epoch_budget": budget,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "wall_s_per_epoch": round(wall / n, 1),
        "cpu_s_per_epoch": round(cpu / n, 1),
        "extrapolated_wall_min": round(wall / n * budget / 60, 1),
        "extrapolated_cpu_min": round(cpu / n * budget / 60, 1),
        "n_parameters": count_parameters(model.nets[0]),
        "model": model,
    }


def time_inference(model: MultibranchModel, data: Any) -> dict[str, Any]:
    lc = data.injected.test
    cat = data.catalog.kepler_test
    model.predict(lc.subset(np.arange(min(64, len(lc)))))  # warm-up
    _, wall, cpu = _timed(lambda: model.predict(lc))
    _, wall_c, _ = _timed(lambda: model.predict(cat))
    _, wall_1, _ = _timed(lambda: [model.predict(lc.subset(np.array([i]))) for i in range(50)])
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp))
        disk = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return {
        "method": model.config.uncertainty.method,
        "mc_samples": model.config.uncertainty.mc_samples,
        "n_lightcurve_candidates": len(lc),
        "lightcurve_candidates_per_s": round(len(lc) / wall, 1),
        "lightcurve_candidates_per_cpu_s": round(len(lc) / max(cpu, 1e-9), 1),
        "catalog_rows_per_s": round(len(cat) / wall_c, 1),
        "single_candidate_latency_ms": round(wall_1 / 50 * 1000, 2),
        "size_bytes_weights": model.size_bytes(),
        "size_bytes_checkpoint": disk,
    }


def time_inputs(cfg: Any, n: int = 30) -> dict[str, Any]:
    """Rate of building one candidate's inputs (views + diagnostics + binned series)."""
    from exoguard.core.diagnostics import diagnose_transit
    from exoguard.ml.multibranch.catalog_sets import default_catalog_frames
    from exoguard.ml.multibranch.hosts import default_hosts
    from exoguard.ml.multibranch.inputs import candidate_inputs

    settings = get_settings()
    frames = default_catalog_frames(settings.catalogs_dir)
    hosts = default_hosts(frames, lightcurves_dir=settings.lightcurves_dir)[:5]
    t0 = time.perf_counter()
    for i in range(n):
        h = hosts[i % len(hosts)]
        flat = h.flat
        p = 1.3 + 0.1 * i
        t0_bjd = float(flat.time_bjd[0]) + 0.3
        diag = diagnose_transit(
            flat.time_bjd,
            flat.flux,
            flat.flux_err,
            period_days=p,
            t0_bjd=t0_bjd,
            duration_days=0.1,
            refine=False,
        )
        candidate_inputs(
            flat,
            diag,
            star=h.star_row,
            n_bins=cfg.timeseries.n_bins,
            image_shape=(cfg.views.image_transits, cfg.views.image_phase_bins),
        )
    wall = time.perf_counter() - t0
    return {"candidates": n, "inputs_per_s": round(n / wall, 1)}


def main() -> None:
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="base")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="time this many epochs and extrapolate (default: the full budget)",
    )
    ap.add_argument(
        "--design-epochs",
        type=int,
        default=1,
        help="epochs of the 'design' config to time (0: skip)",
    )
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = apply_overrides(get_config(args.config), args.param)
    if args.threads:
        cfg = apply_overrides(cfg, [f"n_threads={args.threads}"])
    torch.set_num_threads(cfg.training.n_threads)

    inj = cfg.data.injection
    paths = DataPaths.from_settings(get_settings())
    data, data_wall, data_cpu = _timed(lambda: prepare_data(cfg, paths=paths))
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "threads": cfg.training.n_threads,
            "load_avg": os.getloadavg(),
        },
        "data": {
            "wall_s": round(data_wall, 1),
            "cpu_s": round(data_cpu, 1),
            "n_train": len(data.train),
            "n_val": len(data.val),
            "n_injected": inj.n_samples + inj.n_test,
            "generation_s_when_built": data.injected.meta.get("seconds"),
        },
    }
    train = time_training(cfg, data, args.epochs)
    model = train.pop("model")
    result["train"] = train
    if args.design_epochs > 0 and args.config != "design":
        d_cfg = apply_overrides(get_config("design"), [f"n_threads={cfg.training.n_threads}"])
        d_data = prepare_data(d_cfg, paths=paths)
        d = time_training(d_cfg, d_data, args.design_epochs)
        d.pop("model")
        result["train_design"] = d
    result["inference"] = time_inference(model, data)
    result["injected_test_groups"] = injected_group_report(
        model, data.injected.test, data.injected.test_params
    )
    result["inputs"] = time_inputs(cfg)
    result["targets"] = TARGETS
    result["meets"] = {
        "train_under_30_min": train["extrapolated_wall_min"] < TARGETS["train_min"],
        "inference_200_per_s": result["inference"]["lightcurve_candidates_per_s"]
        >= TARGETS["candidates_per_s"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    t, i = result["train"], result["inference"]
    print(f"machine: {result['machine']}")
    print(f"data: {result['data']}")
    print(
        f"train {t['config']}: {t['epochs_timed']} epochs in {t['wall_s']} s wall / "
        f"{t['cpu_s']} s CPU; {t['wall_s_per_epoch']} s/epoch → budget {t['epoch_budget']} "
        f"epochs ≈ {t['extrapolated_wall_min']} min wall ({t['extrapolated_cpu_min']} min CPU);"
        f" {t['n_parameters']:,} parameters"
    )
    if "train_design" in result:
        d = result["train_design"]
        print(
            f"train design: {d['wall_s_per_epoch']} s/epoch wall ({d['cpu_s_per_epoch']} s "
            f"CPU) → {d['epoch_budget']} epochs ≈ {d['extrapolated_wall_min']} min; "
            f"{d['n_parameters']:,} parameters"
        )
    print(
        f"inference ({i['method']}, {i['mc_samples']} passes): "
        f"{i['lightcurve_candidates_per_s']} light-curve candidates/s, "
        f"{i['catalog_rows_per_s']} catalog rows/s, single {i['single_candidate_latency_ms']}"
        f" ms; weights {i['size_bytes_weights'] / 1e6:.2f} MB, checkpoint "
        f"{i['size_bytes_checkpoint'] / 1e6:.2f} MB"
    )
    print(f"inputs: {result['inputs']['inputs_per_s']} candidates/s (views + diagnostics)")
    print("held-out injected test by group:")
    for line in format_group_report(result["injected_test_groups"]):
        print("  " + line)
    print(f"meets targets: {result['meets']}")


if __name__ == "__main__":
    main()
