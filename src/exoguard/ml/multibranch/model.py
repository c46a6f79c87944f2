"""The multi-branch network (PyTorch).

Three branches, each switchable for ablation, fused by a dense layer into a
heteroscedastic logit: a mean ``mu`` and a log-spread ``log_sigma`` per candidate, the
logit being modelled as ``N(mu, sigma^2)`` (Kendall & Gal 2017).

Branch 1 — time series
    ``(B, 3, n_bins)`` (dip significance, candidate in-transit fraction, data present) cut
    into patches of ``patch_size`` bins → linear token embedding + learned positions →
    Transformer encoder (pre-norm) with empty patches masked → masked mean and max over
    tokens → linear.
Branch 2 — views
    Global view ``(B, 1, 2001)`` and local views ``(B, 4, 201)`` through 1-D conv blocks,
    adaptive average pooling to 8 positions (keeps where a feature sits: centre, phase
    0.5) and flattening; the phase × transit-number image ``(B, 1, T, P)`` through
    conv 3×3 → maxpool 2 → conv 3×3 → global average pool; the three concatenated → dense.
Branch 3 — scalars
    ``[values, missing indicators]`` ``(B, 2F)`` → dense(hidden) → dropout → dense(out).

A row without a light curve (a catalog row) has ``has_lc = False``: the light-curve
branches are not run for it and a learned "absent" embedding stands in for them, so the
same network scores catalog rows (scalar branch alone) and light-curve candidates.

Monte-Carlo dropout samples only the layers after the expensive encoders (the scalar
MLP and the fusion head): :meth:`MultibranchNet.encode` runs once, :meth:`head` many times.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from exoguard.ml.multibranch.configs import (
    GLOBAL_VIEW_BINS,
    LOCAL_VIEW_BINS,
    MultibranchConfig,
    TimeSeriesBranchConfig,
    ViewBranchConfig,
)

#: Channels of the inputs (see the module docstring).
TS_CHANNELS = 3
GLOBAL_CHANNELS = 1
LOCAL_CHANNELS = 4
#: Positions kept by the adaptive pooling of the 1-D view encoders.
VIEW_POOLED_POSITIONS = 8
#: log-spread is clamped to this range (sigma from ~0.0025 to ~20 logits).
LOG_SIGMA_RANGE = (-6.0, 3.0)


@dataclass
class Batch:
    """Network inputs for B candidates (float32 tensors unless stated).

    Attributes
    ----------
    ts : Tensor, shape (B, 3, n_bins)
    global_view : Tensor, shape (B, 1, 2001)
    local_view : Tensor, shape (B, 4, 201)
    image : Tensor, shape (B, 1, image_transits, image_phase_bins)
    scalar : Tensor, shape (B, F)
        Standardised scalar features, 0 where missing.
    scalar_missing : Tensor, shape (B, F)
        1 where the feature is missing.
    has_lc : Tensor of bool, shape (B,)
        False for catalog rows: the light-curve inputs are ignored.
    """

    ts: Tensor
    global_view: Tensor
    local_view: Tensor
    image: Tensor
    scalar: Tensor
    scalar_missing: Tensor
    has_lc: Tensor

    def __len__(self) -> int:
        return int(self.scalar.shape[0])

    def index(self, idx: Tensor) -> Batch:
        """The rows ``idx`` (a long or bool tensor)."""
        return Batch(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


@dataclass
class Encoded:
    """Deterministic encoder outputs: light-curve embedding and the scalar input."""

    lc: Tensor  # (B, D_lc), zeros-width when no light-curve branch is enabled
    scalar_in: Tensor  # (B, 2F)
    has_lc: Tensor  # (B,) bool


class TimeSeriesEncoder(nn.Module):
    """Transformer encoder over patches of the binned time series."""

    def __init__(self, cfg: TimeSeriesBranchConfig) -> None:
        super().__init__()
        self.patch = cfg.patch_size
        self.n_tokens = cfg.n_tokens
        self.embed = nn.Linear(TS_CHANNELS * cfg.patch_size, cfg.d_model)
        self.pos = nn.Parameter(torch.zeros(1, cfg.n_tokens, cfg.d_model))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            d_model=cfg.d_model,
            nhead=cfg.n_heads,
            dim_feedforward=cfg.ff_dim,
            dropout=cfg.dropout,
            batch_first=True,
            norm_first=True,
            activation="gelu",
        )
        self.encoder = nn.TransformerEncoder(
            layer, num_layers=cfg.n_layers, enable_nested_tensor=False
        )
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out = nn.Linear(2 * cfg.d_model, cfg.d_model)
        self.out_dim = cfg.d_model

    def forward(self, ts: Tensor) -> Tensor:
        """``ts`` (B, 3, n_bins) → (B, d_model)."""
        b = ts.shape[0]
        tokens = ts.reshape(b, TS_CHANNELS, self.n_tokens, self.patch)
        tokens = tokens.permute(0, 2, 1, 3).reshape(b, self.n_tokens, TS_CHANNELS * self.patch)
        valid = ts[:, 2].reshape(b, self.n_tokens, self.patch).amax(dim=2) > 0  # (B, T)
        # a series with no data at all keeps its first token, so attention stays defined
        valid = valid.clone()
        valid[:, 0] |= ~valid.any(dim=1)
        x = self.embed(tokens) + self.pos
        x = self.encoder(x, src_key_padding_mask=~valid)
        x = self.norm(x)
        w = valid.unsqueeze(-1).to(x.dtype)
        mean = (x * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)
        mx = x.masked_fill(~valid.unsqueeze(-1), float("-inf")).amax(dim=1)
        return F.gelu(self.out(torch.cat([mean, mx], dim=1)))


def _conv1d_stack(in_ch: int, channels: tuple[int, ...], kernel: int, pool: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = in_ch
    for out in channels:
        layers += [
            nn.Conv1d(c, out, kernel, padding=kernel // 2),
            nn.ReLU(),
            nn.Conv1d(out, out, kernel, padding=kernel // 2),
            nn.ReLU(),
            nn.MaxPool1d(pool, stride=2, padding=pool // 2),
        ]
        c = out
    layers.append(nn.AdaptiveAvgPool1d(VIEW_POOLED_POSITIONS))
    layers.append(nn.Flatten())
    return nn.Sequential(*layers)


class ViewEncoder(nn.Module):
    """1-D CNNs over the global and local views and a 2-D CNN over the phase × transit image."""

    def __init__(self, cfg: ViewBranchConfig) -> None:
        super().__init__()
        self.global_net = _conv1d_stack(
            GLOBAL_CHANNELS, cfg.global_channels, cfg.kernel_size, cfg.pool_size
        )
        self.local_net = _conv1d_stack(
            LOCAL_CHANNELS, cfg.local_channels, cfg.kernel_size, cfg.pool_size
        )
        c1, c2 = cfg.image_channels
        self.image_net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        n_in = (
            cfg.global_channels[-1] * VIEW_POOLED_POSITIONS
            + cfg.local_channels[-1] * VIEW_POOLED_POSITIONS
            + c2
        )
        self.dense = nn.Linear(n_in, cfg.out_dim)
        self.dropout = cfg.dropout
        self.out_dim = cfg.out_dim

    def forward(self, global_view: Tensor, local_view: Tensor, image: Tensor) -> Tensor:
        """Views → (B, out_dim)."""
        z = torch.cat(
            [self.global_net(global_view), self.local_net(local_view), self.image_net(image)],
            dim=1,
        )
        z = F.dropout(z, self.dropout, training=self.training)
        return F.relu(self.dense(z))


class MultibranchNet(nn.Module):
    """The fused network; see the module docstring.

    Parameters
    ----------
    config : MultibranchConfig
    n_scalar_features : int
        F, the number of scalar features (the scalar input has 2F columns).
    """

    def __init__(self, config: MultibranchConfig, *, n_scalar_features: int) -> None:
        super().__init__()
        if n_scalar_features < 1:
            raise ValueError(f"n_scalar_features must be >= 1, got {n_scalar_features}")
        self.config = config
        self.n_scalar_features = n_scalar_features
        self.ts_encoder = (
            TimeSeriesEncoder(config.timeseries) if config.timeseries.enabled else None
        )
        self.view_encoder = ViewEncoder(config.views) if config.views.enabled else None
        lc_dim = (self.ts_encoder.out_dim if self.ts_encoder else 0) + (
            self.view_encoder.out_dim if self.view_encoder else 0
        )
        self.lc_dim = lc_dim
        self.absent = nn.Parameter(torch.zeros(lc_dim)) if lc_dim else None
        sc = config.scalar
        if sc.enabled:
            self.scalar_fc1: nn.Linear | None = nn.Linear(2 * n_scalar_features, sc.hidden)
            self.scalar_fc2: nn.Linear | None = nn.Linear(sc.hidden, sc.out_dim)
            scalar_dim = sc.out_dim
        else:
            self.scalar_fc1 = self.scalar_fc2 = None
            scalar_dim = 0
        fu = config.fusion
        self.fusion = nn.Linear(lc_dim + scalar_dim + 1, fu.hidden)
        self.output = nn.Linear(fu.hidden, 2)
        with torch.no_grad():  # start from a moderate, shared spread
            self.output.bias[1] = -1.0
            self.output.weight[1].mul_(0.1)

    # ------------------------------------------------------------------ parts
    def encode(self, batch: Batch) -> Encoded:
        """Run the light-curve encoders on the rows that have a light curve."""
        b = len(batch)
        scalar_in = torch.cat([batch.scalar, batch.scalar_missing], dim=1)
        if not self.lc_dim:
            return Encoded(lc=scalar_in.new_zeros((b, 0)), scalar_in=scalar_in, has_lc=batch.has_lc)
        assert self.absent is not None
        lc = self.absent.unsqueeze(0).expand(b, -1).clone()
        idx = torch.nonzero(batch.has_lc, as_tuple=False).squeeze(1)
        if idx.numel():
            parts = []
            if self.ts_encoder is not None:
                parts.append(self.ts_encoder(batch.ts[idx]))
            if self.view_encoder is not None:
                parts.append(
                    self.view_encoder(
                        batch.global_view[idx], batch.local_view[idx], batch.image[idx]
                    )
                )
            lc = lc.index_copy(0, idx, torch.cat(parts, dim=1).to(lc.dtype))
        return Encoded(lc=lc, scalar_in=scalar_in, has_lc=batch.has_lc)

    def head(self, enc: Encoded, *, stochastic: bool = False) -> tuple[Tensor, Tensor]:
        """Scalar MLP + fusion → ``(mu, log_sigma)``, each shape (B,).

        With ``stochastic=True`` the dropout layers sample masks even in eval mode
        (Monte-Carlo dropout).
        """
        drop = self.training or stochastic
        parts = [enc.lc]
        if self.scalar_fc1 is not None and self.scalar_fc2 is not None:
            h = F.relu(self.scalar_fc1(enc.scalar_in))
            h = F.dropout(h, self.config.scalar.dropout, training=drop)
            parts.append(F.relu(self.scalar_fc2(h)))
        parts.append(enc.has_lc.to(enc.scalar_in.dtype).unsqueeze(1))
        z = F.relu(self.fusion(torch.cat(parts, dim=1)))
        z = F.dropout(z, self.config.fusion.dropout, training=drop)
        return self._mu_log_sigma(self.output(z))

    def _mu_log_sigma(self, out: Tensor) -> tuple[Tensor, Tensor]:
        """The output layer's ``(..., 2)`` → ``(mu, log_sigma)``, each of shape ``(...)``."""
        mu = out[..., 0]
        if self.config.fusion.heteroscedastic:
            log_sigma = out[..., 1].clamp(*LOG_SIGMA_RANGE)
        else:
            log_sigma = torch.full_like(mu, LOG_SIGMA_RANGE[0])
        return mu, log_sigma

    def head_passes(self, enc: Encoded, n_passes: int) -> tuple[Tensor, Tensor]:
        """`n_passes` Monte-Carlo dropout passes of :meth:`head` at once: ``(mu, log_sigma)``,
        each shape (n_passes, B).

        Pass ``k`` sees the dropout masks the ``k``-th of `n_passes` successive
        ``head(enc, stochastic=True)`` calls would draw (the masks are drawn in that order,
        then applied to all passes in one batched product), so under one seed the two agree
        to float rounding (a test compares them). One call instead of `n_passes` saves the
        per-layer overhead that dominates on the small batches of the predict route.
        """
        if n_passes < 1:
            raise ValueError(f"n_passes must be >= 1; got {n_passes}")
        rows = enc.scalar_in.shape[0]
        dtype = enc.scalar_in.dtype
        fc1, fc2 = self.scalar_fc1, self.scalar_fc2
        layers = [(self.fusion.out_features, self.config.fusion.dropout)]
        if fc1 is not None and fc2 is not None:
            layers.insert(0, (fc1.out_features, self.config.scalar.dropout))
        # F.dropout draws nothing at p = 0 (the configs allow 0 <= p < 1): ones there
        masks = [
            (torch.empty if p > 0 else torch.ones)(n_passes, rows, width, dtype=dtype)
            for width, p in layers
        ]
        drawn = [(mask, p) for mask, (_, p) in zip(masks, layers, strict=True) if p > 0]
        if rows:
            # in the order of successive head() calls: pass by pass, layer by layer
            for k in range(n_passes):
                for mask, p in drawn:
                    mask[k].bernoulli_(1.0 - p)
            for mask, p in drawn:
                mask.div_(1.0 - p)
        parts = [enc.lc.unsqueeze(0).expand(n_passes, -1, -1)]
        if fc1 is not None and fc2 is not None:
            h = F.relu(fc1(enc.scalar_in)).unsqueeze(0) * masks[0]
            parts.append(F.relu(fc2(h)))
        has_lc = enc.has_lc.to(dtype).reshape(1, rows, 1).expand(n_passes, -1, -1)
        parts.append(has_lc)
        z = F.relu(self.fusion(torch.cat(parts, dim=2))) * masks[-1]
        return self._mu_log_sigma(self.output(z))

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """``(mu, log_sigma)`` of the logit, each shape (B,)."""
        return self.head(self.encode(batch))


# ---------------------------------------------------------------------- losses and maths
def heteroscedastic_nll(
    mu: Tensor,
    log_sigma: Tensor,
    y: Tensor,
    *,
    n_samples: int,
    weight: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Mean negative log-likelihood of 0/1 labels under a Gaussian logit.

    ``-log (1/T) Σ_t p(y | mu + sigma ε_t)``, ε ~ N(0, 1), T = ``n_samples`` draws
    (Kendall & Gal 2017, eq. 12); weighted by ``weight`` (B,) when given.
    """
    eps = torch.randn((n_samples, *mu.shape), generator=generator, dtype=mu.dtype)
    z = mu.unsqueeze(0) + log_sigma.exp().unsqueeze(0) * eps
    logp = -F.binary_cross_entropy_with_logits(z, y.unsqueeze(0).expand_as(z), reduction="none")
    nll = -(torch.logsumexp(logp, dim=0) - torch.log(torch.tensor(float(n_samples))))
    if weight is None:
        return nll.mean()
    return (nll * weight).sum() / weight.sum().clamp_min(1e-12)


#: Gauss–Hermite nodes and weights (probabilists'), for expectations over the logit noise.
_gh_x, _gh_w = np.polynomial.hermite_e.hermegauss(24)
_GH_X = torch.tensor(_gh_x, dtype=torch.float64)
_GH_W = torch.tensor(_gh_w / _gh_w.sum(), dtype=torch.float64)


def gaussian_logit_moments(mu: Tensor, sigma: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and variance of ``sigmoid(z)``, ``z ~ N(mu, sigma^2)`` (24-point Gauss–Hermite).

    Shapes broadcast; float64 results.
    """
    z = mu.double().unsqueeze(-1) + sigma.double().unsqueeze(-1) * _GH_X
    s = torch.sigmoid(z)
    m1 = (s * _GH_W).sum(-1)
    m2 = (s * s * _GH_W).sum(-1)
    return m1, (m2 - m1 * m1).clamp_min(0.0)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "GLOBAL_VIEW_BINS",
    "LOCAL_VIEW_BINS",
    "Batch",
    "Encoded",
    "MultibranchNet",
    "count_parameters",
    "gaussian_logit_moments",
    "heteroscedastic_nll",
]
