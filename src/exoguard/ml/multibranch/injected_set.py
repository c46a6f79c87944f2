"""The injected training and test sets: build, cache, save, load; sample groups.

The set is cached under ``settings.var_dir / "multibranch"`` as ``.npz`` (no pickle)
keyed by the hash of the injection config, the input shapes and the host files
(:func:`injected_cache_key`). Hosts: :mod:`exoguard.ml.multibranch.hosts`; one sample:
:mod:`exoguard.ml.multibranch.samples`; drawing them all:
:mod:`exoguard.ml.multibranch.drawing`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exoguard.errors import ValidationError
from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.configs import (
    SIGNAL_KINDS,
    InjectionConfig,
    MultibranchConfig,
)
from exoguard.ml.multibranch.drawing import Progress, draw_all, report_failures
from exoguard.ml.multibranch.hosts import Host, split_stars
from exoguard.ml.multibranch.injections import PARAM_COLUMNS
from exoguard.ml.multibranch.inputs import (
    default_scalar_features,
)
from exoguard.ml.multibranch.samples import Sample, stack_samples, with_features

logger = logging.getLogger(__name__)

#: Bumped whenever generation changes in a way the config does not capture.
GENERATOR_VERSION = "5"  # 5: few-event samples, second signals, K2 hosts
SPLITS = ("train", "test")


@dataclass(frozen=True, eq=False)
class InjectedSet:
    """Injected samples of the training stars and of the held-out test stars.

    Attributes
    ----------
    train, test : SampleArrays
    train_params, test_params : DataFrame
        The injection of each row (:class:`Injection` fields plus ``host``).
    meta : dict
        Config, host split, counts per kind, generation time, cache key.
    """

    train: SampleArrays
    test: SampleArrays
    train_params: pd.DataFrame
    test_params: pd.DataFrame
    meta: dict[str, Any]


def injected_cache_key(config: MultibranchConfig, hosts: Sequence[Host]) -> str:
    """Hash of what determines the injected set."""
    inj = config.data.injection.model_dump(mode="json")
    h = hashlib.sha256()
    h.update(json.dumps(inj, sort_keys=True).encode())
    h.update(
        f"{config.timeseries.n_bins}|{config.views.image_transits}|"
        f"{config.views.image_phase_bins}|{GENERATOR_VERSION}".encode()
    )
    for host in hosts:
        h.update(
            f"{host.name}:{host.raw.n_points}:{host.raw.time_bjd[:1].tobytes().hex()}".encode()
        )
    return h.hexdigest()[:16]


def build_injected_set(
    config: MultibranchConfig,
    *,
    hosts: Sequence[Host],
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Progress | None = None,
    features: Sequence[str] | None = None,
    workers: int | None = None,
) -> InjectedSet:
    """Generate (or load from the cache) the injected training and test sets.

    Parameters
    ----------
    config : MultibranchConfig
        ``data.injection`` drives generation; the time-series bins and image shape too.
    hosts : sequence of Host
        The host light curves (:func:`~exoguard.ml.multibranch.hosts.default_hosts`).
    cache_dir : Path, optional
        Where the set is cached (``DataPaths.cache_dir``); needed with ``use_cache=True``.
    progress : callable, optional
        Called with 1 after each sample.
    features : sequence of str, optional
        Scalar features (default :func:`default_scalar_features`); the cache stores the
        harmonised rows, so another list needs no new generation.
    workers : int, optional
        Processes drawing samples (default: the CPUs, at most 8). Each sample has its own
        seeded generator, so the set does not depend on the number of workers.
    """
    inj = config.data.injection
    hosts = list(hosts)
    if not hosts:
        raise ValidationError("no usable host light curves for injection")
    if use_cache and cache_dir is None:
        raise ValueError("use_cache=True needs cache_dir (DataPaths.cache_dir)")
    key = injected_cache_key(config, hosts)
    path = None if cache_dir is None else cache_dir / f"injected-{key}.npz"
    if path is not None and use_cache and path.exists():
        try:
            return load_injected_set(path, features=features)
        except (OSError, KeyError, ValueError) as exc:
            logger.warning("ignoring unreadable cache %s: %s", path, exc)
    t_start = time.perf_counter()
    pools = _host_pools(hosts, inj)
    n_bins = config.timeseries.n_bins
    image_shape = (config.views.image_transits, config.views.image_phase_bins)
    jobs = [(i, 0, "train") for i in range(inj.n_samples)] + [
        (i, 1, "test") for i in range(inj.n_test)
    ]
    samples = draw_all(hosts, jobs, pools, inj, n_bins, image_shape, workers, progress)
    report_failures(jobs, samples, inj)
    parts: dict[str, list[Sample]] = {s: [] for s in SPLITS}
    for (_, _, s), smp in zip(jobs, samples, strict=True):
        if smp is not None:
            parts[s].append(smp)
    names = tuple(features) if features is not None else default_scalar_features()
    arrays = {
        s: stack_samples(parts[s], n_bins=n_bins, image_shape=image_shape, features=names)
        for s in SPLITS
    }
    params = {s: _param_frame(parts[s]) for s in SPLITS}
    meta = {
        "cache_key": key,
        "generator_version": GENERATOR_VERSION,
        "injection": inj.model_dump(mode="json"),
        "n_bins": n_bins,
        "image_shape": list(image_shape),
        "scalar_features": list(names),
        "host_split": {s: sorted({hosts[j].star for j in pools[s]}) for s in SPLITS},
        "host_files": {s: [hosts[j].name for j in pools[s]] for s in SPLITS},
        "counts": {s: {k: int((arrays[s].kind == k).sum()) for k in SIGNAL_KINDS} for s in SPLITS},
        "groups": {s: sample_group_counts(params[s]) for s in SPLITS},
        "n_dropped": int(sum(x is None for x in samples)),
        "seconds": round(time.perf_counter() - t_start, 1),
    }
    out = InjectedSet(arrays["train"], arrays["test"], params["train"], params["test"], meta)
    if use_cache and path is not None:
        save_injected_set(out, path)
    return out


def _host_pools(hosts: Sequence[Host], inj: InjectionConfig) -> dict[str, list[int]]:
    """Indices of the hosts of each split (stars, not files, are split)."""
    split_of = split_stars(hosts, test_fraction=inj.test_host_fraction, seed=inj.seed)
    pools = {s: [j for j, h in enumerate(hosts) if split_of[h.star] == s] for s in SPLITS}
    if not pools["train"] or not pools["test"]:
        raise ValidationError(f"need host stars for both training and test; got split {split_of}")
    return pools


def _param_frame(samples: Sequence[Sample]) -> pd.DataFrame:
    """One row per sample: injection parameters, host, harmonised and light-curve features."""
    return pd.DataFrame(
        [
            {
                **{c: getattr(p.injection, c) for c in PARAM_COLUMNS},
                "host": p.host,
                **{f"h__{k}": v for k, v in p.inputs.harmonised.items()},
                **{f"lc__{k}": v for k, v in p.inputs.lc_features.items()},
            }
            for p in samples
        ]
    )


def sample_groups(params: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks of the injected rows by group, each shape (len(params),).

    ``mission:<m>``: hosts of mission ``m`` (``kepler``, ``k2``, ``tess``);
    ``few_events``: one or two injected events with data in the span;
    ``multi_signal``: a second signal on the star.
    """
    n = len(params)

    def col(name: str, default: float) -> np.ndarray:
        if name not in params.columns:
            return np.full(n, default)
        return pd.to_numeric(params[name], errors="coerce").to_numpy(dtype=float)

    mission = (
        params["h__mission"].astype(str).to_numpy()
        if "h__mission" in params.columns
        else np.full(n, "other")
    )
    n_events = col("n_events", math.nan)
    out = {f"mission:{m}": mission == m for m in ("k2", "kepler", "tess")}
    out["few_events"] = np.isin(n_events, (1.0, 2.0))
    out["multi_signal"] = col("n_signals", 1.0) >= 2
    return out


def sample_group_counts(params: pd.DataFrame) -> dict[str, int]:
    """Rows in each of :func:`sample_groups`."""
    return {k: int(v.sum()) for k, v in sample_groups(params).items()}


def save_injected_set(data: InjectedSet, path: Path) -> None:
    """Write the set as one ``.npz`` (arrays, params columns, meta JSON) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, np.ndarray] = {}
    for split, arr, params in (
        ("train", data.train, data.train_params),
        ("test", data.test, data.test_params),
    ):
        for k, v in arr.to_npz_dict().items():
            payload[f"{split}__{k}"] = v
        for col in params.columns:
            values = params[col].to_numpy()
            payload[f"{split}__param__{col}"] = (
                values.astype(str) if values.dtype == object else values.astype(float)
            )
    payload["meta"] = np.asarray(json.dumps(data.meta))
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(fd)
    np.savez(tmp, **payload)  # type: ignore[arg-type]
    os.replace(tmp, path)


def load_injected_set(path: Path, *, features: Sequence[str] | None = None) -> InjectedSet:
    """Read a set written by :func:`save_injected_set` (``allow_pickle=False``), with the
    scalar ``features`` (default :func:`default_scalar_features`) recomputed."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        out: dict[str, Any] = {}
        for split in SPLITS:
            prefix = f"{split}__"
            arr = SampleArrays.from_npz(
                {
                    k[len(prefix) :]: z[k]
                    for k in z.files
                    if k.startswith(prefix) and "__param__" not in k
                }
            )
            pcols = {
                k.split("__param__", 1)[1]: z[k]
                for k in z.files
                if k.startswith(f"{split}__param__")
            }
            params = pd.DataFrame(pcols)
            for col in params.columns:
                if col.startswith(("h__", "lc__")) and col not in ("h__host_id", "h__mission"):
                    params[col] = pd.to_numeric(params[col], errors="coerce")
            names = tuple(features) if features is not None else default_scalar_features()
            out[split] = (with_features(arr, params, names), params)
    meta["scalar_features"] = list(out["train"][0].feature_names)
    return InjectedSet(out["train"][0], out["test"][0], out["train"][1], out["test"][1], meta)
