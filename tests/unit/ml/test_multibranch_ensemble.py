"""Decision-level ensemble of the multi-branch model and the GBM: stacking math and I/O."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from exoguard.ml.ensemble import DecisionEnsemble, fit_stacker


def test_stacker_learns_to_trust_the_better_model_per_row_kind() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 2, n)
    has_lc = rng.random(n) < 0.5
    good = np.clip(np.where(y == 1, 0.8, 0.2) + rng.normal(0, 0.1, n), 0.01, 0.99)
    noise = rng.uniform(0.01, 0.99, n)
    # the network is informative on light curves, the GBM on catalog rows
    p_mb = np.where(has_lc, good, noise)
    p_gbm = np.where(has_lc, noise, good)
    coef, intercept = fit_stacker(p_mb, p_gbm, has_lc, y)
    ens = DecisionEnsemble(coef, intercept, "multibranch-0001", "gbm-0001")
    p, unc = ens.combine(p_mb, p_gbm, has_lc, unc_mb=np.full(n, 0.1), unc_gbm=np.full(n, 0.3))
    acc = ((p >= 0.5) == y).mean()
    assert acc > 0.95
    # on catalog rows the GBM dominates, on light curves the network
    assert abs(coef[1]) > abs(coef[0])
    assert abs(coef[0] + coef[3]) > abs(coef[1] + coef[4])
    # the weighted component spread (between 0.1 and 0.3) plus half the disagreement of the
    # two models, in quadrature
    disagreement = 0.5 * np.abs(p_mb - p_gbm)
    weighted = np.sqrt(np.clip(unc**2 - disagreement**2, 0.0, None))
    assert np.all((weighted >= 0.1 - 1e-9) & (weighted <= 0.3 + 1e-9))
    assert unc[has_lc].mean() < unc[~has_lc].mean()


def test_round_trip(tmp_path: Path) -> None:
    ens = DecisionEnsemble((1.0, 0.5, 0.1, 0.2, -0.3), -0.2, "multibranch-0002", "gbm-0003")
    ens.save(tmp_path)
    again = DecisionEnsemble.load(tmp_path)
    assert again == ens
    p = np.array([0.2, 0.9])
    np.testing.assert_allclose(
        again.combine(p, p, np.array([True, False]))[0],
        ens.combine(p, p, np.array([True, False]))[0],
    )


def test_missing_artifact_is_a_clear_error(tmp_path: Path) -> None:
    from exoguard.errors import ModelNotReadyError

    with pytest.raises(ModelNotReadyError, match="ensemble"):
        DecisionEnsemble.load(tmp_path)


def test_default_component_is_the_best_full_multibranch_version() -> None:
    from types import SimpleNamespace

    from exoguard.ml.ensemble import best_multibranch

    def rec(vid: str, auc: float | None, off: str | None = None) -> SimpleNamespace:
        config = {b: {"enabled": b != off} for b in ("timeseries", "views", "scalar")}
        metrics = {"injected_test": {"roc_auc": auc}} if auc is not None else {}
        return SimpleNamespace(id=vid, kind="multibranch", config=config, metrics=metrics)

    newest_first = [
        rec("multibranch-0005", 0.99, off="scalar"),  # an ablation run never wins
        rec("multibranch-0004", 0.95),
        rec("multibranch-0003", 0.97),
        SimpleNamespace(id="gbm-0001", kind="gbm", config={}, metrics={}),
    ]
    registry = SimpleNamespace(list=lambda: newest_first)
    assert best_multibranch(registry) == "multibranch-0003"
    registry = SimpleNamespace(list=lambda: [rec("multibranch-0002", None), rec("m-1", None)])
    assert best_multibranch(registry) == "multibranch-0002"  # no figures: the newest
    from exoguard.errors import ModelNotReadyError

    with pytest.raises(ModelNotReadyError, match="every branch"):
        best_multibranch(SimpleNamespace(list=lambda: [newest_first[0]]))


def test_ensemble_cli_params_name_the_allowed_keys() -> None:
    from exoguard.cli.neural import _ensemble_params
    from exoguard.errors import ConfigError

    assert _ensemble_params(["mb_version=multibranch-0003"]) == {"mb_version": "multibranch-0003"}
    with pytest.raises(ConfigError, match="mb_version, gbm_version"):
        _ensemble_params(["n_layers=2"])


def test_components_that_disagree_make_an_uncertain_verdict() -> None:
    ens = DecisionEnsemble((2.0, 0.5, 0.0, 0.0, 0.0), 0.0, "multibranch-0001", "gbm-0001")
    has_lc = np.array([True, True])
    p_mb = np.array([0.02, 0.02])
    p_gbm = np.array([0.03, 0.70])  # agree / disagree by 0.68
    _, unc = ens.combine(p_mb, p_gbm, has_lc, unc_mb=np.full(2, 0.01), unc_gbm=np.full(2, 0.01))
    assert unc[0] == pytest.approx(np.hypot(0.01, 0.005), rel=1e-6)
    assert unc[1] == pytest.approx(np.hypot(0.01, 0.34), rel=1e-6)
    assert unc[1] > 0.15  # above the default vetting threshold: sent to people
