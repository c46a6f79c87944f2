"""Training loop, calibration, conformal sets and checkpoints on synthetic tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from exoguard.ml.multibranch.arrays import SampleArrays, ScalarScaler
from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
from exoguard.ml.multibranch.configs import MultibranchConfig
from exoguard.ml.multibranch.fit import fit_model
from exoguard.ml.multibranch.predict import MultibranchModel, conformal_sets, conformal_threshold


def synthetic(n: int, cfg: MultibranchConfig, seed: int) -> SampleArrays:
    """Planets have a flat-bottomed local view, false positives a V and a secondary;
    scalar feature 0 is shifted by 1.5 sigma for planets; 30 % are catalog rows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int8)
    x = np.linspace(-2, 2, 201)
    u = -(np.abs(x) < 0.5).astype(float)
    v = -np.clip(1 - 2 * np.abs(x), 0, None)
    local = rng.normal(0, 0.3, (n, 4, 201))
    local[:, 0] += np.where(y[:, None] == 1, u, v)
    local[:, 3] += np.where(y[:, None] == 1, 0.0, 0.5 * v)
    ts = rng.normal(size=(n, 3, cfg.timeseries.n_bins))
    ts[:, 2] = 1.0
    scalar = rng.normal(size=(n, 4))
    scalar[:, 0] += 1.5 * y
    scalar[rng.random((n, 4)) < 0.1] = np.nan
    return SampleArrays(
        ts=ts.astype(np.float32),
        global_view=rng.normal(0, 0.3, (n, 1, 2001)).astype(np.float32),
        local_view=local.astype(np.float32),
        image=rng.normal(size=(n, 1, cfg.views.image_transits, cfg.views.image_phase_bins)).astype(
            np.float32
        ),
        scalar=scalar,
        has_lc=rng.random(n) < 0.7,
        y=y,
        kind=np.where(y == 1, "planet", "eb"),
        group=np.array([f"star{i % 40}" for i in range(n)]),
        weight=np.ones(n, np.float32),
        feature_names=("a", "b", "c", "d"),
    )


@pytest.fixture(scope="module")
def cfg() -> MultibranchConfig:
    return apply_overrides(get_config("small"), ["epochs=7", "learning_rate=1e-2", "patience=7"])


@pytest.fixture(scope="module")
def trained(cfg: MultibranchConfig) -> tuple[MultibranchModel, SampleArrays]:
    model, logs = fit_model(cfg, synthetic(320, cfg, 1), synthetic(160, cfg, 2))
    assert 1 <= len(logs) <= cfg.training.epochs
    return model, synthetic(300, cfg, 3)


def test_learns_a_separable_problem(trained: tuple[MultibranchModel, SampleArrays]) -> None:
    model, test = trained
    pred = model.predict(test)
    assert roc_auc_score(test.y, pred.probability) > 0.9
    lc = test.has_lc
    assert roc_auc_score(test.y[lc], pred.probability[lc]) > 0.95  # views make it easy
    assert np.all((pred.uncertainty >= 0) & (pred.uncertainty <= 0.5))
    assert np.all((pred.probability >= 0) & (pred.probability <= 1))
    assert 0.2 <= model.temperature <= 10.0


def test_conformal_sets_cover_about_90_percent(
    trained: tuple[MultibranchModel, SampleArrays],
) -> None:
    model, test = trained
    pred = model.predict(test)
    sets = pred.prediction_set
    covered = np.where(sets == 2, True, np.where(sets == -1, False, sets == test.y))
    # 300 rows: the binomial standard error at 0.9 is about 0.017
    assert 0.83 <= covered.mean() <= 0.97
    assert np.all(pred.uncertain[(sets == 2) | (sets == -1)])


def test_conformal_threshold_reference() -> None:
    p = np.array([0.9, 0.8, 0.3, 0.1, 0.6])
    y = np.array([1, 1, 0, 0, 0])
    # scores 0.1, 0.2, 0.3, 0.1, 0.6; n=5, level ceil(6*0.8)/5 = 1 -> the maximum
    assert conformal_threshold(p, y, alpha=0.2) == pytest.approx(0.6)
    np.testing.assert_array_equal(conformal_sets(np.array([0.95, 0.5, 0.02]), 0.3), [1, -1, 0])
    np.testing.assert_array_equal(conformal_sets(np.array([0.5]), 0.5), [2])


def test_training_is_deterministic_for_a_seed(cfg: MultibranchConfig) -> None:
    c = apply_overrides(cfg, ["epochs=2"])
    a, _ = fit_model(c, synthetic(120, c, 5), synthetic(60, c, 6))
    b, _ = fit_model(c, synthetic(120, c, 5), synthetic(60, c, 6))
    test = synthetic(50, c, 7)
    np.testing.assert_allclose(a.predict(test).probability, b.predict(test).probability)


def test_checkpoint_round_trip_uses_tensors_and_json_only(
    trained: tuple[MultibranchModel, SampleArrays], tmp_path: Path
) -> None:
    import torch

    model, test = trained
    model.save(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["config.json", "member_00.pt", "model.json"]
    state = torch.load(tmp_path / "member_00.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    again = MultibranchModel.load(tmp_path)
    np.testing.assert_allclose(again.predict(test).probability, model.predict(test).probability)
    assert again.config == model.config


def test_deep_ensemble_members_disagree(cfg: MultibranchConfig) -> None:
    c = apply_overrides(cfg, ["epochs=2", "uncertainty.method=ensemble", "n_members=2"])
    model, _ = fit_model(c, synthetic(120, c, 8), synthetic(60, c, 9))
    assert len(model.nets) == 2
    pred = model.predict(synthetic(40, c, 10))
    assert pred.epistemic.mean() > 0


def test_scaler_handles_missing_values() -> None:
    x = np.array([[1.0, np.nan], [3.0, 10.0], [5.0, 1000.0]])
    scaler = ScalarScaler.fit(x, ("a", "b"))
    z, miss = scaler.transform(x)
    assert miss.tolist() == [[0, 1], [0, 0], [0, 0]]
    assert z[0, 1] == 0.0
    assert abs(float(z[:, 0].mean())) < 1e-6
    assert ScalarScaler.from_dict(scaler.to_dict()) == scaler
