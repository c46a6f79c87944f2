"""Drawing the samples of an injected set: kind, host and scenario of sample ``i``.

Sample ``i`` of split ``s`` draws from ``np.random.default_rng([seed, s, i])``, so the set
does not depend on the order of generation nor on the number of worker processes. Each
sample picks a kind from ``injection.mix``, whether it has one or two events only
(``few_transit_fraction``) and a second signal (``multi_signal_fraction``), and a host (a
mission by ``host_mission_weights`` when given, a star uniformly, then one of its files)
of its split.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from exoguard.ml.multibranch.configs import (
    SIGNAL_LABELS,
    InjectionConfig,
)
from exoguard.ml.multibranch.hosts import Host
from exoguard.ml.multibranch.injections import draw_from_range
from exoguard.ml.multibranch.samples import Sample, generate_sample
from exoguard.ml.multibranch.scenarios import (
    FEW_EVENT_KINDS,
)

logger = logging.getLogger(__name__)

#: Attempts to draw a usable sample before giving up on a host.
MAX_TRIES = 40

Progress = Callable[[int], None]


def _maybe_crop(host: Host, inj: InjectionConfig, rng: np.random.Generator) -> Host:
    baseline = host.raw.baseline_days
    if rng.uniform() >= inj.crop_probability or baseline <= inj.min_host_days:
        return host
    length = max(inj.min_host_days, draw_from_range(rng, inj.crop_fraction) * baseline)
    start = float(host.raw.time_bjd[0] + rng.uniform(0.0, max(baseline - length, 0.0)))
    cropped = host.crop(start, start + length)
    return cropped if cropped.raw.n_points >= 100 else host


def _draw_sample(
    hosts: Sequence[Host],
    i: int,
    split_id: int,
    inj: InjectionConfig,
    n_bins: int,
    image_shape: tuple[int, int],
    pool: list[int],
) -> Sample | None:
    rng = _sample_rng(inj, split_id, i)
    kind = _draw_kind(rng, inj)
    few = 0
    if (
        kind in FEW_EVENT_KINDS
        and inj.few_transit_fraction > 0
        and rng.uniform() < inj.few_transit_fraction
    ):
        few = 1 + int(rng.uniform() < 0.5)
    multi = bool(inj.multi_signal_fraction > 0 and rng.uniform() < inj.multi_signal_fraction)
    # a star holding a signal we could not cut out never receives a planet-labelled sample
    usable = [j for j in pool if hosts[j].planet_ok or SIGNAL_LABELS[kind] == 0]
    if not usable:
        return None
    by_mission: dict[str, list[str]] = {}
    for j in usable:
        stars_m = by_mission.setdefault(hosts[j].raw.mission, [])
        if hosts[j].star not in stars_m:
            stars_m.append(hosts[j].star)
    weights = inj.host_mission_weights
    missions = sorted(m for m in by_mission if not weights or weights.get(m, 0) > 0)
    stars = sorted({hosts[j].star for j in usable})
    if weights and missions:
        # the mission is drawn once: a draw that fails (e.g. a planet too large for the
        # noise of a K2 star) is tried again on the same mission, so that the missions
        # keep their weights within each kind
        w = np.array([weights[m] for m in missions], float)
        stars = sorted(by_mission[missions[int(rng.choice(len(missions), p=w / w.sum()))]])
    for _ in range(MAX_TRIES):
        star = stars[int(rng.integers(len(stars)))]
        files = [j for j in usable if hosts[j].star == star]
        host = _maybe_crop(hosts[files[int(rng.integers(len(files)))]], inj, rng)
        sample = generate_sample(
            host,
            kind,
            rng,
            inj=inj,
            n_bins=n_bins,
            image_shape=image_shape,
            few_events=few,
            multi=multi,
        )
        if sample is not None:
            return sample
    # counted and reported once per set by `report_failures` (not once per sample)
    logger.debug("sample %d (%s) could not be generated in %d tries", i, kind, MAX_TRIES)
    return None


def _sample_rng(inj: InjectionConfig, split_id: int, i: int) -> np.random.Generator:
    """The generator of sample `i` of split `split_id`: the same in any process."""
    return np.random.default_rng([inj.seed, split_id, i])


def _draw_kind(rng: np.random.Generator, inj: InjectionConfig) -> str:
    """A sample's kind, drawn first from its generator with the weights of ``inj.mix``."""
    kinds = list(inj.mix)
    w = np.array([inj.mix[k] for k in kinds], float)
    return kinds[int(rng.choice(len(kinds), p=w / w.sum()))]


def report_failures(
    jobs: Sequence[tuple[int, int, str]], samples: Sequence[Sample | None], inj: InjectionConfig
) -> None:
    """One warning line for every sample that could not be drawn, counted by kind and split."""
    failed: dict[tuple[str, str], int] = {}
    for (i, sid, split), smp in zip(jobs, samples, strict=True):
        if smp is None:
            key = (split, _draw_kind(_sample_rng(inj, sid, i), inj))
            failed[key] = failed.get(key, 0) + 1
    if failed:
        counts = ", ".join(f"{n} {kind} ({split})" for (split, kind), n in sorted(failed.items()))
        logger.warning(
            "%d of %d samples could not be generated in %d tries each and were left out: %s",
            sum(failed.values()),
            len(jobs),
            MAX_TRIES,
            counts,
        )


#: Samples a worker process draws per task.
_CHUNK = 64
#: Below this many samples one process draws them all (starting workers costs seconds).
_MIN_PARALLEL = 1000
#: What each worker process reads (set by :func:`_init_worker`).
_WORKER_STATE: dict[str, Any] = {}


def _init_worker(state: dict[str, Any]) -> None:
    _WORKER_STATE.update(state)


def _draw_chunk(chunk: list[tuple[int, int, str]]) -> list[Sample | None]:
    st = _WORKER_STATE
    return [
        _draw_sample(
            st["hosts"], i, sid, st["inj"], st["n_bins"], st["image_shape"], st["pools"][s]
        )
        for i, sid, s in chunk
    ]


def draw_all(
    hosts: Sequence[Host],
    jobs: list[tuple[int, int, str]],
    pools: dict[str, list[int]],
    inj: InjectionConfig,
    n_bins: int,
    image_shape: tuple[int, int],
    workers: int | None,
    progress: Progress | None,
) -> list[Sample | None]:
    """Every job's sample, in job order; in ``workers`` processes for large sets.

    Workers are spawned, not forked: the parent may already run OpenMP threads (the
    numba search kernel, torch), which a forked child must not inherit.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    def serial() -> list[Sample | None]:
        out: list[Sample | None] = []
        for i, sid, s in jobs:
            out.append(_draw_sample(hosts, i, sid, inj, n_bins, image_shape, pools[s]))
            if progress is not None:
                progress(1)
        return out

    n = workers if workers is not None else min(os.cpu_count() or 1, 8)
    # a daemonic process (e.g. a job worker's child) may not start processes of its own
    if n <= 1 or len(jobs) < _MIN_PARALLEL or multiprocessing.current_process().daemon:
        return serial()

    state = {
        "hosts": list(hosts),
        "inj": inj,
        "n_bins": n_bins,
        "image_shape": image_shape,
        "pools": pools,
    }
    chunks = [jobs[k : k + _CHUNK] for k in range(0, len(jobs), _CHUNK)]
    results: list[Sample | None] = []
    try:
        with ProcessPoolExecutor(
            max_workers=n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(state,),
        ) as pool:
            for part in pool.map(_draw_chunk, chunks):
                results.extend(part)
                if progress is not None:
                    progress(len(part))
    except (BrokenProcessPool, OSError) as exc:  # no worker processes here: draw them here
        logger.warning("worker processes failed (%s); drawing the samples in this process", exc)
        return serial()
    return results
