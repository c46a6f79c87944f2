"""The multi-branch network: shapes, branch switches, catalog rows, loss and moments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
from exoguard.ml.multibranch.model import (
    Batch,
    MultibranchNet,
    gaussian_logit_moments,
    heteroscedastic_nll,
)

N_FEATURES = 6


def _batch(cfg, n: int = 5, *, seed: int = 0, has_lc: bool = True) -> Batch:
    g = torch.Generator().manual_seed(seed)
    v = cfg.views
    ts = torch.randn(n, 3, cfg.timeseries.n_bins, generator=g)
    ts[:, 2] = 1.0
    return Batch(
        ts=ts,
        global_view=torch.randn(n, 1, 2001, generator=g),
        local_view=torch.randn(n, 4, 201, generator=g),
        image=torch.randn(n, 1, v.image_transits, v.image_phase_bins, generator=g),
        scalar=torch.randn(n, N_FEATURES, generator=g),
        scalar_missing=torch.zeros(n, N_FEATURES),
        has_lc=torch.full((n,), has_lc, dtype=torch.bool),
    )


@pytest.mark.parametrize(
    "off",
    [
        [],
        ["timeseries.enabled=false"],
        ["views.enabled=false"],
        ["scalar.enabled=false"],
        ["timeseries.enabled=false", "views.enabled=false"],
    ],
)
def test_forward_shapes_for_every_branch_combination(off: list[str]) -> None:
    torch.manual_seed(0)
    cfg = apply_overrides(get_config("small"), off)
    net = MultibranchNet(cfg, n_scalar_features=N_FEATURES).eval()
    mu, log_sigma = net(_batch(cfg))
    assert mu.shape == (5,) and log_sigma.shape == (5,)
    assert torch.isfinite(mu).all() and torch.isfinite(log_sigma).all()


def test_catalog_rows_ignore_light_curve_inputs() -> None:
    torch.manual_seed(0)
    cfg = get_config("small")
    net = MultibranchNet(cfg, n_scalar_features=N_FEATURES).eval()
    a = _batch(cfg, seed=1, has_lc=False)
    b = _batch(cfg, seed=2, has_lc=False)
    b.scalar = a.scalar.clone()
    with torch.no_grad():
        assert torch.allclose(net(a)[0], net(b)[0])
        # with light curves present the same scalars give other outputs
        a.has_lc[:] = True
        b.has_lc[:] = True
        assert not torch.allclose(net(a)[0], net(b)[0])


def test_empty_time_series_stays_finite() -> None:
    cfg = get_config("small")
    net = MultibranchNet(cfg, n_scalar_features=N_FEATURES).eval()
    batch = _batch(cfg)
    batch.ts[:] = 0.0  # no bin holds data
    with torch.no_grad():
        assert torch.isfinite(net(batch)[0]).all()


def test_mc_dropout_head_is_stochastic_and_eval_head_is_not() -> None:
    torch.manual_seed(0)
    cfg = get_config("small")
    net = MultibranchNet(cfg, n_scalar_features=N_FEATURES).eval()
    with torch.no_grad():
        enc = net.encode(_batch(cfg))
        assert torch.equal(net.head(enc)[0], net.head(enc)[0])
        draws = torch.stack([net.head(enc, stochastic=True)[0] for _ in range(10)])
    assert float(draws.std(dim=0).mean()) > 1e-4


@pytest.mark.parametrize(
    "overrides",
    [[], ["scalar.enabled=false"], ["scalar.dropout=0.0"], ["fusion.heteroscedastic=false"]],
)
def test_batched_mc_passes_match_successive_stochastic_heads(overrides: list[str]) -> None:
    """`head_passes` is the fast twin of n successive `head(stochastic=True)` calls: the same
    seed gives the same masks, so the same outputs (to 1e-6 of float32 rounding)."""
    torch.manual_seed(0)
    cfg = apply_overrides(get_config("small"), overrides)
    net = MultibranchNet(cfg, n_scalar_features=N_FEATURES).eval()
    batch = _batch(cfg, n=7)
    batch.has_lc[::2] = False
    with torch.no_grad():
        enc = net.encode(batch)
        torch.manual_seed(11)
        slow = [net.head(enc, stochastic=True) for _ in range(12)]
        after_slow = torch.rand(3)
        torch.manual_seed(11)
        mu, log_sigma = net.head_passes(enc, 12)
        after_fast = torch.rand(3)
    assert mu.shape == log_sigma.shape == (12, 7)
    torch.testing.assert_close(mu, torch.stack([m for m, _ in slow]), rtol=0, atol=1e-6)
    torch.testing.assert_close(log_sigma, torch.stack([s for _, s in slow]), rtol=0, atol=1e-6)
    # both consumed the same random numbers: what follows is drawn alike too
    assert torch.equal(after_slow, after_fast)
    with pytest.raises(ValueError, match="n_passes must be >= 1"):
        net.head_passes(enc, 0)


def test_heteroscedastic_loss_reduces_to_cross_entropy_without_spread() -> None:
    mu = torch.tensor([-2.0, 0.3, 4.0])
    y = torch.tensor([0.0, 1.0, 1.0])
    loss = heteroscedastic_nll(
        mu, torch.full((3,), -20.0), y, n_samples=8, generator=torch.Generator().manual_seed(0)
    )
    bce = torch.nn.functional.binary_cross_entropy_with_logits(mu, y)
    assert float(loss) == pytest.approx(float(bce), rel=1e-5)
    w = torch.tensor([1.0, 0.0, 0.0])
    only_first = heteroscedastic_nll(mu, torch.full((3,), -20.0), y, n_samples=4, weight=w)
    assert float(only_first) == pytest.approx(float(np.log1p(np.exp(-2.0))), rel=1e-5)


def test_gaussian_logit_moments_match_monte_carlo() -> None:
    mu = torch.tensor([-1.0, 0.0, 2.5])
    sigma = torch.tensor([0.5, 2.0, 1.0])
    m, v = gaussian_logit_moments(mu, sigma)
    rng = np.random.default_rng(0)
    z = mu.numpy()[:, None] + sigma.numpy()[:, None] * rng.standard_normal((3, 400_000))
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(m.numpy(), s.mean(axis=1), atol=2e-3)
    np.testing.assert_allclose(v.numpy(), s.var(axis=1), atol=2e-3)
