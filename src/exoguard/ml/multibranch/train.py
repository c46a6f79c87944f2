"""Train, evaluate, register and load multi-branch model versions.

``train_multibranch`` builds (or loads from the cache) the injected set and the catalog
rows, holds out validation rows (injected: the rows of a seeded ``validation_fraction`` of
the training host files; catalog: whole stars), trains (:func:`fit.fit_model`), calibrates,
evaluates on the held-out sets, saves the checkpoint (tensors + JSON) and registers the
version (kind ``multibranch``) with its config, training-data hash and metrics.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exoguard.errors import ModelNotReadyError
from exoguard.jsonsafe import jsonable
from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.catalog_sets import (
    CatalogSets,
    build_catalog_sets,
    default_catalog_frames,
)
from exoguard.ml.multibranch.configs import MultibranchConfig
from exoguard.ml.multibranch.drawing import Progress
from exoguard.ml.multibranch.evaluate import (
    injected_group_report,
    method_comparison,
    real_lightcurve_report,
    set_metrics,
)
from exoguard.ml.multibranch.fit import EpochCallback, EpochLog, fit_model
from exoguard.ml.multibranch.hosts import Host, default_hosts
from exoguard.ml.multibranch.injected_set import InjectedSet, build_injected_set
from exoguard.ml.multibranch.model import count_parameters
from exoguard.ml.multibranch.paths import DataPaths
from exoguard.ml.multibranch.predict import MultibranchModel
from exoguard.ml.registry import ModelRegistry

logger = logging.getLogger(__name__)

KIND = "multibranch"
Log = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Everything a training run uses."""

    train: SampleArrays
    val: SampleArrays
    injected: InjectedSet
    catalog: CatalogSets
    frames: list[pd.DataFrame]

    def digest(self) -> str:
        """The training-data hash: SHA-256 of the training and validation arrays."""
        import hashlib

        return hashlib.sha256((self.train.digest() + self.val.digest()).encode()).hexdigest()


def split_validation(
    data: SampleArrays,
    *,
    fraction: float,
    seed: int,
    by_group: bool,
    groups: np.ndarray | None = None,
) -> tuple[SampleArrays, SampleArrays]:
    """Hold out a seeded ``fraction`` of the rows, or whole groups (``data.group`` unless
    ``groups`` is given, shape (n,)) holding about that fraction of the rows; never every
    group."""
    rng = np.random.default_rng(seed)
    if by_group:
        g_of = data.group if groups is None else np.asarray(groups).astype(str)
        uniq, counts = np.unique(g_of, return_counts=True)
        # whole groups in a seeded order until they hold ``fraction`` of the rows
        held: set[str] = set()
        n_rows = 0
        for i in rng.permutation(len(uniq)):
            if n_rows >= fraction * len(g_of) or len(held) >= len(uniq) - 1:
                break
            held.add(str(uniq[i]))
            n_rows += int(counts[i])
        val = np.array([g in held for g in g_of])
    else:
        val = np.zeros(len(data), bool)
        val[rng.choice(len(data), size=int(round(fraction * len(data))), replace=False)] = True
    return data.subset(~val), data.subset(val)


def _need_paths(paths: DataPaths | None, what: str) -> DataPaths:
    if paths is None:
        raise ValueError(f"prepare_data needs paths (DataPaths) when {what} is not given")
    return paths


def prepare_data(
    config: MultibranchConfig,
    *,
    paths: DataPaths | None = None,
    frames: Sequence[pd.DataFrame] | None = None,
    hosts: Sequence[Host] | None = None,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    features: Sequence[str] | None = None,
) -> TrainingData:
    """Injected set + catalog rows, split into training and validation rows.

    ``paths`` gives what is not passed: ``frames`` (from ``paths.catalogs_dir``), ``hosts``
    (from ``paths.lightcurves_dir``) and ``cache_dir`` (``paths.cache_dir``).
    ``features``: the scalar features (a trained model's list when re-evaluating it;
    default: the current :func:`~exoguard.ml.multibranch.inputs.default_scalar_features`).
    """
    if frames is None:
        frames = default_catalog_frames(_need_paths(paths, "frames").catalogs_dir)
    frames = list(frames)
    if hosts is None:
        hosts = default_hosts(
            frames,
            lightcurves_dir=_need_paths(paths, "hosts").lightcurves_dir,
            mask_durations=config.data.injection.known_transit_mask_durations,
        )
    if cache_dir is None and paths is not None:
        cache_dir = paths.cache_dir
    injected = build_injected_set(
        config,
        hosts=hosts,
        use_cache=use_cache,
        cache_dir=cache_dir,
        progress=progress,
        features=features,
    )
    catalog = build_catalog_sets(config, frames=frames, features=features)
    tc = config.training
    # validation rows come from other host files than the training rows, so that early
    # stopping, temperature and the conformal threshold see unseen noise, as the test does
    host_file = (
        injected.train_params["host"].to_numpy()
        if "host" in injected.train_params.columns and len(injected.train_params)
        else None
    )
    inj_train, inj_val = split_validation(
        injected.train,
        fraction=tc.validation_fraction,
        seed=tc.seed,
        by_group=host_file is not None,
        groups=host_file,
    )
    parts_train, parts_val = [inj_train], [inj_val]
    if len(catalog.train):
        cat_train, cat_val = split_validation(
            catalog.train, fraction=tc.validation_fraction, seed=tc.seed + 1, by_group=True
        )
        parts_train.append(cat_train)
        parts_val.append(cat_val)
    return TrainingData(
        train=SampleArrays.concat(parts_train),
        val=SampleArrays.concat(parts_val),
        injected=injected,
        catalog=catalog,
        frames=frames,
    )


def evaluate_model(
    model: MultibranchModel,
    data: TrainingData,
    *,
    lightcurves_dir: Path | None = None,
    compare_methods: bool = True,
    log: Log | None = None,
) -> dict[str, Any]:
    """The evaluation report on the held-out sets (see :mod:`.evaluate`); with
    ``lightcurves_dir`` (``settings.lightcurves_dir``) also on the real labelled light curves
    under it."""
    t0 = time.perf_counter()
    test = data.injected.test
    test_pred = model.predict(test) if len(test) else None
    report: dict[str, Any] = {
        "injected_test": set_metrics(model, test, pred=test_pred),
        # the same predictions by group: K2/Kepler/TESS hosts, few events, second signal
        "injected_test_groups": injected_group_report(
            model, test, data.injected.test_params, pred=test_pred
        )
        if test_pred is not None
        else None,
        "validation": set_metrics(model, data.val),
        "catalog": {
            "kepler_holdout": set_metrics(model, data.catalog.kepler_test),
            "cross_mission": {
                m: set_metrics(model, a) for m, a in data.catalog.cross_mission.items()
            },
        },
    }
    if compare_methods:
        report["uncertainty_methods_injected_test"] = method_comparison(model, data.injected.test)
    if lightcurves_dir is not None:
        report["real_lightcurves"] = real_lightcurve_report(
            model, frames=data.frames, lightcurves_dir=lightcurves_dir, log=log
        )
    inj = report["injected_test"] or {}
    real_rep = report.get("real_lightcurves") or {}
    report["acceptance"] = {
        "injected_test.roc_auc>=0.98": bool((inj.get("roc_auc") or 0) >= 0.98),
        "injected_test.uncertainty_auc>=0.7": bool((inj.get("uncertainty_auc") or 0) >= 0.7),
    }
    if lightcurves_dir is not None:
        report["acceptance"]["real.planets>0.5_or_uncertain"] = bool(
            real_rep.get("planets_above_0_5_or_uncertain")
        )
        report["acceptance"]["real.false_positives<0.5_or_uncertain"] = bool(
            real_rep.get("false_positives_below_0_5_or_uncertain")
        )
    report["evaluation_seconds"] = round(time.perf_counter() - t0, 1)
    return report


def _history(logs: Sequence[EpochLog]) -> list[dict[str, Any]]:
    return [
        {
            "member": e.member,
            "epoch": e.epoch,
            "train_loss": round(e.train_loss, 5),
            "val_loss": round(e.val_loss, 5),
            "val_auc": None if e.val_auc is None else round(e.val_auc, 5),
            "seconds": round(e.seconds, 2),
        }
        for e in logs
    ]


def train_multibranch(
    config: MultibranchConfig,
    *,
    data: TrainingData | None = None,
    paths: DataPaths | None = None,
    registry: ModelRegistry | None = None,
    on_epoch: EpochCallback | None = None,
    gen_progress: Progress | None = None,
    real_lightcurves_dir: Path | None = None,
    register: bool = True,
    log: Log | None = None,
    data_seconds: float | None = None,
) -> tuple[MultibranchModel, dict[str, Any], Any]:
    """Train, evaluate and (by default) register a version.

    ``data``: the training data (:func:`prepare_data`); built from ``paths`` when None.
    ``real_lightcurves_dir`` (``settings.lightcurves_dir``) adds the evaluation on the real
    labelled light curves under it; None leaves it out.

    Returns
    -------
    model : MultibranchModel
    metrics : dict
        Training summary and the evaluation report.
    record : VersionRecord or None
        The registry record (None with ``register=False``).
    """
    t_start = time.perf_counter()
    if data is None:
        data = prepare_data(config, paths=_need_paths(paths, "data"), progress=gen_progress)
    t_data = time.perf_counter() - t_start if data_seconds is None else data_seconds
    t_fit0 = time.perf_counter()
    model, logs = fit_model(config, data.train, data.val, on_epoch=on_epoch)
    t_fit = time.perf_counter() - t_fit0
    digest = data.digest()
    report = evaluate_model(model, data, lightcurves_dir=real_lightcurves_dir, log=log)
    metrics: dict[str, Any] = {
        "n_train": len(data.train),
        "n_val": len(data.val),
        "n_train_by_kind": {
            str(k): int((data.train.kind == k).sum()) for k in np.unique(data.train.kind)
        },
        "n_parameters": count_parameters(model.nets[0]) * len(model.nets),
        "size_bytes": model.size_bytes(),
        "temperature": model.temperature,
        "conformal_q": model.conformal_q,
        "data_seconds": round(t_data, 1),
        "train_seconds": round(t_fit, 1),
        "epochs_run": max((e.epoch for e in logs), default=0),
        "history": _history(logs),
        "injected_set": {
            k: v for k, v in data.injected.meta.items() if k not in ("scalar_features", "injection")
        },
        "catalog_sets": data.catalog.meta,
        "scalar_features": list(model.feature_names),
        "data_hash": digest,
        **report,
    }
    model.meta = {"data_hash": digest, "config_name": config.name}
    record = None
    if register:
        if registry is None:
            raise ValueError("register=True needs the registry to record the version in")
        record = save_version(
            model, metrics, registry=registry, importance=_importance(model, data.val)
        )
    logger.info("multibranch trained in %.1f s", time.perf_counter() - t_start)
    return model, metrics, record


#: Validation rows (a seeded sample) behind the stored global importance.
IMPORTANCE_ROWS = 2000


def _importance(model: MultibranchModel, val: SampleArrays) -> list[dict[str, Any]]:
    from exoguard.ml.multibranch.occlusion import occlusion_importance

    rows = np.arange(len(val))
    if len(rows) > IMPORTANCE_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, IMPORTANCE_ROWS, replace=False))
    return occlusion_importance(model, val.subset(rows))


def save_version(
    model: MultibranchModel,
    metrics: dict[str, Any],
    *,
    registry: ModelRegistry,
    importance: list[dict[str, Any]] | None = None,
) -> Any:
    """Write the checkpoint into a new version directory and register it (not activated).

    ``importance`` (mean |occlusion| per input) is stored as ``importance.json``, the file
    the pages read for every model kind.
    """
    reg = registry
    version_id = reg.next_version_id(KIND)
    directory = reg.artifact_dir(version_id)
    try:
        model.save(directory)
        (directory / "metrics.json").write_text(json.dumps(jsonable(metrics), indent=2))
        if importance is not None:
            (directory / "importance.json").write_text(json.dumps(importance, indent=2))
        digest = str(metrics.get("data_hash", ""))
        (directory / "data_hash.txt").write_text(digest + "\n")
        return reg.register(
            version_id=version_id,
            kind=KIND,
            config=model.config.model_dump(mode="json"),
            data_hash=digest,
            metrics=jsonable(_summary(metrics)),
            activate_if_none=False,
        )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """What goes into the registry record (the full report stays in metrics.json)."""
    drop: set[str] = set()
    out = {k: v for k, v in metrics.items() if k not in drop}
    return out


def load_multibranch(
    version: str | None = None, *, registry: ModelRegistry
) -> tuple[MultibranchModel, Any]:
    """Load a registered multibranch version (the newest one when ``version`` is None)."""
    reg = registry
    if version is None:
        recs = [r for r in reg.list() if r.kind == KIND]
        active = reg.active()
        if active is not None and active.kind == KIND:
            rec = active
        elif recs:
            rec = recs[0]
        else:
            raise ModelNotReadyError(
                "no multibranch model; train one with `exoguard train --model multibranch`"
            )
    else:
        rec = reg.get(version)
        if rec.kind != KIND:
            raise ModelNotReadyError(f"{version} is a {rec.kind} model, not {KIND}")
    directory = Path(rec.artifact_path)
    if not directory.is_dir():
        directory = reg.artifact_dir(rec.id)
    return MultibranchModel.load(directory), rec
