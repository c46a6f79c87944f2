"""Injected training set and model inputs, on synthetic hosts (fast) and one real file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exoguard.config import get_settings
from exoguard.core.diagnostics import diagnose_transit
from exoguard.core.inject import inject_transit
from exoguard.core.lightcurve import LightCurve
from exoguard.ml.multibranch import catalog_sets as mb_catalog
from exoguard.ml.multibranch import drawing as mb_drawing
from exoguard.ml.multibranch import hosts as mb_hosts
from exoguard.ml.multibranch import injected_set as mb_set
from exoguard.ml.multibranch import injections as mb_injections
from exoguard.ml.multibranch import samples as mb_samples
from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
from exoguard.ml.multibranch.configs import SIGNAL_KINDS
from exoguard.ml.multibranch.inputs import (
    ALL_FEATURES,
    LC_FEATURES,
    SCALAR_FEATURES,
    StarRow,
    binned_series,
    candidate_inputs,
)

T0 = 2455000.0


def white_noise_lc(
    target: str, *, days: float = 20.0, sigma: float = 3e-4, seed: int = 0, mission: str = "kepler"
) -> LightCurve:
    rng = np.random.default_rng(seed)
    t = T0 + np.arange(0, days, 0.0204)  # Kepler long cadence
    return LightCurve.from_arrays(
        t,
        1 + sigma * rng.standard_normal(t.size),
        np.full(t.size, sigma),
        mission=mission,
        target_id=target,
        cadence_s=1765.5,
        sources=(f"{target}.fits",),
    )


@pytest.fixture(scope="module")
def hosts() -> list[mb_hosts.Host]:
    star = StarRow(teff_k=5700, logg_cgs=4.4, radius_rsun=1.0, mag=12.0)
    out = []
    for i in range(4):
        lc = white_noise_lc(f"KIC {i + 1}", seed=i, mission="kepler" if i < 3 else "tess")
        # already flat: a unit trend spares the detrending
        out.append(mb_hosts.Host(lc.sources[0], lc.target_id, lc, np.ones(lc.n_points), 1.0, star))
    return out


def test_binned_series_marks_the_transits() -> None:
    lc = white_noise_lc("KIC 9", sigma=1e-4)
    lc = inject_transit(lc, period_days=5.0, t0_bjd=T0 + 2.0, rp_rs=0.1, a_rs=12.0, impact=0.2)
    x = binned_series(lc, n_bins=200, period_days=5.0, t0_bjd=T0 + 2.0, duration_hours=3.5)
    assert x.shape == (3, 200)
    in_tr = x[1] > 0.5
    assert 4 <= in_tr.sum() <= 12  # 4 transits over 20 days, 0.1 d bins
    assert x[0][in_tr].mean() > 3 * max(x[0][~in_tr].std(), 0.1)  # dips are significant
    assert np.all(x[2] == 1.0)


def test_candidate_inputs_shapes_and_features(hosts: list[mb_hosts.Host]) -> None:
    flat = inject_transit(
        hosts[0].flat, period_days=3.0, t0_bjd=T0 + 1.0, rp_rs=0.05, a_rs=10.0, impact=0.1
    )
    diag = diagnose_transit(
        flat.time_bjd,
        flat.flux,
        flat.flux_err,
        period_days=3.0,
        t0_bjd=T0 + 1.0,
        duration_days=0.12,
        refine=False,
    )
    inp = candidate_inputs(flat, diag, star=hosts[0].star_row, n_bins=128, image_shape=(8, 32))
    assert inp.ts.shape == (3, 128)
    assert inp.global_view.shape == (1, 2001)
    assert inp.local_view.shape == (4, 201)
    assert inp.image.shape == (1, 8, 32)
    assert inp.local_view[0, 100] == pytest.approx(-1.0, abs=0.3)  # depth-normalised
    assert set(inp.lc_features) == set(LC_FEATURES)
    assert inp.harmonised["planet_radius_rearth"] == pytest.approx(
        np.sqrt(diag.depth_ppm * 1e-6) * 109.076, rel=1e-6
    )
    assert SCALAR_FEATURES[: len(ALL_FEATURES)] == tuple(ALL_FEATURES)


@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_every_kind_generates_a_labelled_sample(hosts: list[mb_hosts.Host], kind: str) -> None:
    # white noise rarely gives a false alarm above the search's SNR threshold
    inj = apply_overrides(get_config("small"), ["min_candidate_snr=0"]).data.injection
    rng = np.random.default_rng(3)
    sample = None
    for _ in range(20):
        sample = mb_samples.generate_sample(
            hosts[0], kind, rng, inj=inj, n_bins=128, image_shape=(8, 32)
        )
        if sample is not None:
            break
    assert sample is not None
    assert sample.label == int(kind == "planet")
    assert sample.kind == kind
    if kind == "planet":
        rp = sample.injection.planet_radius_rearth
        assert inj.planet_radius_rearth.lo <= rp <= inj.planet_radius_rearth.hi
        # the candidate sits at the injected period (search-like errors are small)
        assert sample.inputs.harmonised["period_days"] == pytest.approx(
            sample.injection.period_days, rel=0.02
        )
    if kind == "beb":
        assert 0 < sample.injection.dilution < 1


def test_binaries_too_close_to_be_detached_are_not_drawn(
    hosts: list[mb_hosts.Host], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A short period around a low-density star puts the companion inside the primary
    (a/R* <= 1 + k): the draw is dropped, never a crash of the whole set."""
    inj = get_config("small").data.injection
    host = hosts[0]
    monkeypatch.setattr(
        mb_injections, "_eclipse_geometry", lambda *a, **k: (0.5, host.raw.time_bjd[0], 1.1)
    )
    rng = np.random.default_rng(0)
    for background in (False, True):
        assert all(
            mb_injections.inject_binary(host, inj, rng, background=background) is None
            for _ in range(30)
        )


def test_star_split_keeps_stars_apart_and_holds_out_each_mission(
    hosts: list[mb_hosts.Host],
) -> None:
    split = mb_hosts.split_stars(hosts, test_fraction=0.3, seed=1)
    assert set(split) == {h.star for h in hosts}
    kepler = [s for s in split if s != "KIC 4"]
    assert any(split[s] == "test" for s in kepler)
    assert any(split[s] == "train" for s in kepler)
    assert split["KIC 4"] == "train"  # the only TESS star cannot be split


def test_injected_set_is_seeded_cached_and_split_by_star(
    hosts: list[mb_hosts.Host], tmp_path: Path
) -> None:
    cfg = apply_overrides(get_config("small"), ["n_samples=24", "n_test=10"])
    a = mb_set.build_injected_set(cfg, hosts=hosts, cache_dir=tmp_path)
    assert len(a.train) + a.meta["n_dropped"] >= 20 and len(a.test) >= 8
    assert set(np.unique(a.train.group)).isdisjoint(np.unique(a.test.group))
    assert a.train.scalar.shape[1] == len(SCALAR_FEATURES)
    assert set(a.train.y.tolist()) <= {0, 1}
    np.testing.assert_array_equal(a.train.y, (a.train.kind == "planet").astype(int))
    assert len(a.train_params) == len(a.train)
    assert list(tmp_path.glob("injected-*.npz"))
    b = mb_set.build_injected_set(cfg, hosts=hosts, cache_dir=tmp_path)  # from the cache
    assert a.train.digest() == b.train.digest()
    pd.testing.assert_frame_equal(a.test_params, b.test_params, check_dtype=False)
    c = mb_set.build_injected_set(cfg, hosts=hosts, use_cache=False)  # regenerated
    assert c.train.digest() == b.train.digest()


def test_worker_processes_draw_the_same_set(
    hosts: list[mb_hosts.Host], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = apply_overrides(get_config("small"), ["n_samples=12", "n_test=10"])
    serial = mb_set.build_injected_set(cfg, hosts=hosts, use_cache=False, workers=1)
    monkeypatch.setattr(mb_drawing, "_MIN_PARALLEL", 0)
    monkeypatch.setattr(mb_drawing, "_CHUNK", 5)
    seen: list[int] = []
    parallel = mb_set.build_injected_set(
        cfg, hosts=hosts, use_cache=False, workers=2, progress=seen.append
    )
    assert parallel.train.digest() == serial.train.digest()
    assert parallel.test.digest() == serial.test.digest()
    assert sum(seen) == 22  # every sample reported, in chunks


def test_catalog_rows_have_no_light_curve_and_harmonised_labels() -> None:
    frame = pd.DataFrame(
        {
            "object_id": ["a.01", "a.02", "b.01", "c.01"],
            "host_id": ["A", "A", "B", "C"],
            "mission": ["kepler"] * 4,
            "label": ["planet", "candidate", "false_positive", "planet"],
            "period_days": [3.0, 7.0, 1.2, 20.0],
            "duration_hours": [2.0, 3.0, 1.5, 5.0],
            "depth_ppm": [500.0, 300.0, 20000.0, 900.0],
        }
    )
    arr = mb_catalog.catalog_arrays(frame, n_bins=64, image_shape=(8, 32))
    assert arr.y.tolist() == [1, -1, 0, 1]
    assert not arr.has_lc.any()
    assert np.all(arr.ts == 0)
    n_col = SCALAR_FEATURES.index("n_candidates_on_host")
    assert arr.scalar[:, n_col].tolist() == [2, 2, 1, 1]
    assert np.isnan(arr.scalar[:, len(ALL_FEATURES) :]).all()


def test_real_host_masks_known_transits() -> None:
    from exoguard.io import read_lightcurve

    path = (
        get_settings().lightcurves_dir
        / "kepler_lightkurve_exports"
        / "kic010848459_lightkurve.fits"
    )
    if not path.exists():
        pytest.skip("shared data not present")
    lc = read_lightcurve(path)
    koi = mb_catalog.default_catalog_frames(get_settings().catalogs_dir)[0]
    catalog = koi[koi["object_id"] == "K00754.01"]
    assert len(catalog) == 1
    host = mb_hosts.make_host(lc, catalog=catalog, stars={})
    assert host.raw.n_points < lc.n_points
    # K00754.01 is a ~1 % deep FP: with its transits cut, no point is that low
    assert float(np.min(host.flat.flux)) > 0.995


def test_other_candidates_transits_are_cut_before_diagnosis() -> None:
    # Two planets; one transit of the 4.1-d planet falls on a transit of the 11.1-d one
    # (as K00756.01/.02 in Kepler Q2): that single event is twice as deep and reads as an
    # odd/even difference unless the overlapping points are cut.
    from types import SimpleNamespace

    from exoguard.core.diagnostics import diagnose_transit
    from exoguard.core.transit_measures import transit_mask
    from exoguard.ml.multibranch.classify import commensurate, other_transits

    rng = np.random.default_rng(11)
    t = 2455000.0 + np.arange(0, 90, 0.0204)
    a = SimpleNamespace(period_days=11.1, t0_bjd=2455004.0, duration_hours=5.0)
    b = SimpleNamespace(period_days=4.1355, t0_bjd=2455004.0 + 5 * 11.1 - 13 * 4.1355,
                        duration_hours=3.5)  # fmt: skip
    alias = SimpleNamespace(period_days=22.2, t0_bjd=2455004.0, duration_hours=5.0)
    secondary = SimpleNamespace(period_days=11.1, t0_bjd=2455009.55, duration_hours=5.0)
    f = 1 + rng.normal(0, 2e-4, t.size)
    for c, depth in ((a, 1200e-6), (b, 1000e-6)):
        f[transit_mask(t, period_days=c.period_days, t0_bjd=c.t0_bjd,
                       duration_days=c.duration_hours / 24)] -= depth  # fmt: skip
    cands = [a, b, alias, secondary]
    cut = other_transits(t, cands, 0)
    in_b = transit_mask(t, period_days=b.period_days, t0_bjd=b.t0_bjd, duration_days=3.5 / 24)
    a_win = transit_mask(t, period_days=a.period_days, t0_bjd=a.t0_bjd, duration_days=10 / 24)
    overlap = in_b & a_win
    assert overlap.sum() >= 5 and cut[overlap].all()  # b's transit where it overlaps a's ...
    assert not cut[~a_win].any()  # ... and nothing outside a's windows (2 durations)
    in_a = transit_mask(t, period_days=a.period_days, t0_bjd=a.t0_bjd, duration_days=5 / 24)
    b_wide = transit_mask(t, period_days=b.period_days, t0_bjd=b.t0_bjd, duration_days=5.25 / 24)
    assert not (cut & in_a & ~b_wide).any()  # ... the alias of a (2P) is not
    in_sec = transit_mask(t, period_days=11.1, t0_bjd=2455009.55, duration_days=5 / 24)
    assert not (cut & in_sec & ~b_wide).any()  # nor a secondary eclipse at the same period
    assert commensurate(11.1, 22.2) and commensurate(3.0, 1.0) and commensurate(2.0, 2.015)
    assert not commensurate(11.1, 4.1355) and not commensurate(5.0, 1.0)
    assert not other_transits(t, [a], 0).any()

    def odd_even(keep: np.ndarray) -> float:
        d = diagnose_transit(t[keep], f[keep], np.full(keep.sum(), 2e-4), period_days=11.1,
                             t0_bjd=2455004.0, duration_days=5 / 24, refine=False)  # fmt: skip
        return float(d.odd_even_sigma)

    everything = np.ones(t.size, bool)
    assert odd_even(everything) > 3.5  # the overlap fakes an odd/even difference (4.2)
    assert odd_even(~cut) < 2.0  # measured 1.0


def test_failed_samples_are_reported_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """Samples that cannot be drawn give one warning with counts, not one line each."""
    inj = get_config("small").data.injection
    jobs = [(i, 0, "train") for i in range(300)] + [(i, 1, "test") for i in range(20)]
    samples: list[mb_samples.Sample | None] = [None] * len(jobs)
    with caplog.at_level("WARNING", logger=mb_drawing.logger.name):
        mb_drawing.report_failures(jobs, samples, inj)
    records = [r for r in caplog.records if r.name == mb_drawing.logger.name]
    assert len(records) == 1
    message = records[0].getMessage()
    assert message.startswith("320 of 320 samples could not be generated in 40 tries")
    counts = [int(part.split()[0]) for part in message.split(": ", 1)[1].split(", ")]
    assert sum(counts) == 320
    kinds = {mb_drawing._draw_kind(mb_drawing._sample_rng(inj, sid, i), inj) for i, sid, _ in jobs}
    assert all(k in message for k in kinds)
    caplog.clear()
    with caplog.at_level("WARNING", logger=mb_drawing.logger.name):
        mb_drawing.report_failures(jobs[:1], [object()], inj)  # type: ignore[list-item]
    assert not caplog.records


def test_candidate_inputs_reuse_the_searchs_detrended_curve_and_are_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from exoguard.core.search import search_lightcurve
    from exoguard.ml.multibranch import classify

    rng = np.random.default_rng(4)
    t = 2458325.0 + np.arange(0.0, 27.0, 10 / 1440)
    y = 1 + 3e-4 * rng.standard_normal(t.size) + 2e-3 * np.sin(2 * np.pi * (t - t[0]) / 9.0)
    dt = (t - t[0] - 1.1 + 1.55) % 3.1 - 1.55
    y[np.abs(dt) < 0.05] -= 1.5e-3
    lc = LightCurve.from_arrays(t, y, np.full(t.size, 3e-4), mission="tess", target_id="TIC 1")
    res = search_lightcurve(lc, max_planets=3)
    assert len(res.candidates) == 1 and res.last_detrended is not None
    kwargs = {"config": get_config("default"), "window_days": res.window_days}
    calls: list[int] = []
    original = classify.detrend

    def counting(*args: object, **kw: object) -> object:
        calls.append(1)
        return original(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(classify, "detrend", counting)
    reused = classify.candidate_arrays(
        lc, list(res.candidates), detrended=res.last_detrended, **kwargs
    )
    assert not calls  # the search's curve was taken
    fresh = classify.candidate_arrays(lc, list(res.candidates), **kwargs)
    assert len(calls) == 1
    np.testing.assert_array_equal(reused[0], fresh[0])
    for name in ("ts", "global_view", "local_view", "image", "scalar"):
        np.testing.assert_array_equal(getattr(reused[1], name), getattr(fresh[1], name))
