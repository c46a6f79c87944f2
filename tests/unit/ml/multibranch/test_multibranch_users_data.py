"""The injected set covers what users bring: K2 hosts, planets (and look-alikes) with one
or two events in the span, and a second signal on the star; the held-out test reports
each group. Real bundled hosts, the ``small`` config (seconds)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from exoguard.config import get_settings
from exoguard.ml.multibranch import catalog_sets as mb_catalog
from exoguard.ml.multibranch import hosts as mb_hosts
from exoguard.ml.multibranch import injected_set as mb_set
from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
from exoguard.ml.multibranch.evaluate import format_group_report, group_figures
from exoguard.ml.multibranch.predict import Prediction

K2_FP_STAR = "EPIC 210827030"
pytestmark = pytest.mark.skipif(
    not (get_settings().lightcurves_dir / "k2_c4_dave" / "index.csv").exists(),
    reason="bundled light curves not present",
)


@pytest.fixture(scope="module")
def hosts() -> list[mb_hosts.Host]:
    settings = get_settings()
    return mb_hosts.default_hosts(
        mb_catalog.default_catalog_frames(settings.catalogs_dir),
        lightcurves_dir=settings.lightcurves_dir,
    )


@pytest.fixture(scope="module")
def injected(hosts: list[mb_hosts.Host]) -> mb_set.InjectedSet:
    cfg = apply_overrides(get_config("small"), ["n_samples=160", "n_test=80"])
    return mb_set.build_injected_set(cfg, hosts=hosts, use_cache=False, workers=1)


def test_k2_dave_files_are_hosts_and_the_k2_fp_gets_no_planet(hosts: list[mb_hosts.Host]) -> None:
    k2 = [h for h in hosts if h.raw.mission == "k2"]
    # 48: EPIC 210667985 (relative flux from -800 to 4) is refused as a noise host
    assert len(k2) == 48
    assert "EPIC 210667985" not in {h.star for h in k2}
    assert all(h.name.startswith("ktwo") for h in k2)
    # its catalog row has no ephemeris to cut: the host serves false positives only
    assert [h.star for h in hosts if not h.planet_ok] == [K2_FP_STAR]


def test_k2_hosts_appear_in_training_and_test(injected: mb_set.InjectedSet) -> None:
    for split, params in (("train", injected.train_params), ("test", injected.test_params)):
        k2 = params["h__mission"] == "k2"
        assert k2.sum() >= 10, split
        assert injected.meta["groups"][split]["mission:k2"] == int(k2.sum())
    for params in (injected.train_params, injected.test_params):
        on_fp = params["host"].str.startswith("ktwo210827030")
        assert not (on_fp & (params["kind"] == "planet")).any()


def test_some_samples_have_one_or_two_events_and_are_of_both_labels(
    injected: mb_set.InjectedSet,
) -> None:
    p = injected.train_params
    few = p["n_events"].isin([1.0, 2.0])
    assert few.sum() >= 8
    kinds = set(p.loc[few, "kind"])
    assert "planet" in kinds and kinds & {"eb", "beb", "systematic"}
    # the drawn one-event planets keep the period the search reports: not the true one
    single = p[(p["kind"] == "planet") & (p["n_events"] == 1.0)]
    if len(single):
        assert (single["h__period_days"] < 0.9 * single["period_days"]).any()
    # a one-event planet's true period is longer than its span
    assert (p.loc[p["few_events"].astype(bool) & (p["kind"] == "planet"), "n_events"] <= 2).all()


def test_some_samples_have_a_second_signal_on_the_star(injected: mb_set.InjectedSet) -> None:
    arr, p = injected.train, injected.train_params
    names = list(arr.feature_names)
    n_on_host = arr.scalar[:, names.index("n_candidates_on_host")]
    ratio = arr.scalar[:, names.index("nearest_period_ratio")]
    two = n_on_host == 2
    assert two.sum() >= 8
    assert set(np.unique(n_on_host).tolist()) == {1.0, 2.0}
    # the ratio of the two periods (>= 1.2: never one signal read twice) where there are two
    assert np.all(np.isfinite(ratio[two])) and np.all(ratio[two] >= 1.2 - 1e-9)
    alone = (p["n_signals"] == 1).to_numpy()
    assert np.all(np.isnan(ratio[alone]))
    # the label is the first signal's: second signals sit on false positives too
    assert set(arr.y[two].tolist()) == {0, 1}
    for i in np.flatnonzero(two):
        comp, own = p["companion_period_days"].iloc[i], p["h__period_days"].iloc[i]
        assert ratio[i] == pytest.approx(max(comp, own) / min(comp, own), rel=1e-9)


def test_cached_set_recomputes_the_same_multiplicity(
    hosts: list[mb_hosts.Host], tmp_path: object
) -> None:
    cfg = apply_overrides(get_config("small"), ["n_samples=40", "n_test=20"])
    a = mb_set.build_injected_set(cfg, hosts=hosts, cache_dir=tmp_path)  # type: ignore[arg-type]
    b = mb_set.build_injected_set(cfg, hosts=hosts, cache_dir=tmp_path)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.train.scalar, b.train.scalar)


def test_groups_are_reported_with_the_queue_rule(injected: mb_set.InjectedSet) -> None:
    groups = mb_set.sample_groups(injected.test_params)
    assert set(groups) == {
        "mission:k2",
        "mission:kepler",
        "mission:tess",
        "few_events",
        "multi_signal",
    }
    assert all(g.sum() > 0 for g in groups.values())
    # figures of hand-made predictions: one confident error, one flagged error
    y = np.array([1, 1, 0, 0])
    p = np.array([0.9, 0.1, 0.5, 0.05])
    u = np.array([0.01, 0.01, 0.02, 0.3])
    pred = Prediction(p, u, u, u, np.zeros(4), u > 0.15, (p >= 0.5).astype(int))
    fig = group_figures(y, pred)
    assert fig["n"] == 4 and fig["n_planet"] == 2
    # row 2 (p = 0.5) sits in the ambiguous band and row 3 is too uncertain: both flagged
    assert fig["flagged_fraction"] == pytest.approx(0.5)
    # unflagged verdicts: row 0 right, row 1 wrong
    assert fig["confident_wrong_rate"] == pytest.approx(0.5)
    assert fig["roc_auc"] == pytest.approx(0.75)
    assert not math.isnan(fig["ece"])
    lines = format_group_report({"all": fig, "empty": {"n": 0}})
    assert "confident-and-wrong 0.500 (1)" in lines[0] and lines[1].endswith("n=0")
