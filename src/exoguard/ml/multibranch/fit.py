"""The training loop on arrays: seeded AdamW with cosine decay, heteroscedastic loss,
modality dropout, early stopping on the validation loss; then temperature scaling and
the split-conformal threshold on the validation rows.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import roc_auc_score

from exoguard.ml.multibranch.arrays import SampleArrays, ScalarScaler, to_batch
from exoguard.ml.multibranch.configs import MultibranchConfig, TrainingConfig
from exoguard.ml.multibranch.model import Batch, MultibranchNet, heteroscedastic_nll
from exoguard.ml.multibranch.predict import (
    MultibranchModel,
    RawOutputs,
    combine,
    conformal_threshold,
    torch_threads,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochLog:
    """One line of training progress."""

    member: int
    epoch: int
    train_loss: float
    val_loss: float
    val_auc: float | None
    seconds: float
    best: bool


EpochCallback = Callable[[EpochLog], None]


def member_seeds(seed: int, n: int) -> list[int]:
    """Seeds of the ensemble members, drawn from ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    return [int(s) for s in rng.integers(1, 2**31 - 8, size=n)]


def _labelled(data: SampleArrays) -> SampleArrays:
    return data.subset(data.y >= 0)


def _val_loss(
    net: MultibranchNet, batches: list[tuple[Batch, torch.Tensor, torch.Tensor]], n_samples: int
) -> tuple[float, np.ndarray]:
    net.eval()
    total, weight, mus = 0.0, 0.0, []
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for batch, y, w in batches:
            mu, ls = net(batch)
            loss = heteroscedastic_nll(mu, ls, y, n_samples=n_samples, weight=w, generator=gen)
            total += float(loss) * float(w.sum())
            weight += float(w.sum())
            mus.append(mu.numpy())
    return total / max(weight, 1e-12), np.concatenate(mus) if mus else np.zeros(0)


def _batches(
    data: SampleArrays, scaler: ScalarScaler, size: int
) -> list[tuple[Batch, torch.Tensor, torch.Tensor]]:
    out = []
    for start in range(0, len(data), size):
        idx = np.arange(start, min(len(data), start + size))
        d = data.subset(idx)
        out.append(
            (
                to_batch(d, scaler),
                torch.from_numpy(d.y.astype(np.float32)),
                torch.from_numpy(d.weight.astype(np.float32)),
            )
        )
    return out


def fit_network(
    config: MultibranchConfig,
    train: SampleArrays,
    val: SampleArrays,
    scaler: ScalarScaler,
    *,
    seed: int,
    member: int = 0,
    on_epoch: EpochCallback | None = None,
) -> tuple[MultibranchNet, list[EpochLog]]:
    """Train one network; returns the weights of the epoch with the lowest validation loss.

    Parameters
    ----------
    config : MultibranchConfig
    train, val : SampleArrays
        Labelled rows (``y`` in {0, 1}).
    scaler : ScalarScaler
        Fit on ``train``.
    seed : int
        Seeds the weights, the batch order, modality dropout and the loss noise.
    """
    tc = config.training
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    net = MultibranchNet(config, n_scalar_features=len(scaler.feature_names))
    opt = torch.optim.AdamW(net.parameters(), lr=tc.learning_rate, weight_decay=tc.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(train) / tc.batch_size))
    total_steps = steps_per_epoch * tc.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_cosine(steps_per_epoch, total_steps))
    val_batches = _batches(val, scaler, 256)
    best_loss, best_state, bad, logs = math.inf, copy.deepcopy(net.state_dict()), 0, []
    for epoch in range(1, tc.epochs + 1):
        t0 = time.perf_counter()
        run, seen = _train_epoch(net, opt, sched, train, scaler, tc, rng=rng, gen=gen)
        val_loss, val_mu = _val_loss(net, val_batches, tc.loss_samples)
        auc = float(roc_auc_score(val.y, val_mu)) if len(np.unique(val.y)) == 2 else None
        improved = val_loss < best_loss - 1e-5
        if improved:
            best_loss, best_state, bad = val_loss, copy.deepcopy(net.state_dict()), 0
        else:
            bad += 1
        log = EpochLog(
            member, epoch, run / max(seen, 1e-12), val_loss, auc, time.perf_counter() - t0, improved
        )
        logs.append(log)
        if on_epoch is not None:
            on_epoch(log)
        if bad >= tc.patience:
            logger.info("early stop after epoch %d (best val loss %.4f)", epoch, best_loss)
            break
    net.load_state_dict(best_state)
    net.eval()
    return net, logs


def _warmup_cosine(steps_per_epoch: int, total_steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear warm-up (one epoch at most, a tenth of the steps), then
    a cosine decay to 5 %."""
    warmup = min(steps_per_epoch, max(1, total_steps // 10))

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        frac = (step - warmup) / max(1, total_steps - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))

    return lr_at


def _train_epoch(
    net: MultibranchNet,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    train: SampleArrays,
    scaler: ScalarScaler,
    tc: TrainingConfig,
    *,
    rng: np.random.Generator,
    gen: torch.Generator,
) -> tuple[float, float]:
    """One pass over ``train`` in shuffled batches; the weighted loss sum and weight sum."""
    net.train()
    order = rng.permutation(len(train))
    run, seen = 0.0, 0.0
    for start in range(0, len(order), tc.batch_size):
        idx = np.sort(order[start : start + tc.batch_size])
        d = train.subset(idx)
        batch = to_batch(d, scaler)
        if tc.modality_dropout > 0:
            hide = torch.from_numpy(rng.random(len(d)) < tc.modality_dropout)
            batch.has_lc = batch.has_lc & ~hide
        y = torch.from_numpy(d.y.astype(np.float32))
        w = torch.from_numpy(d.weight.astype(np.float32))
        mu, ls = net(batch)
        loss = heteroscedastic_nll(mu, ls, y, n_samples=tc.loss_samples, weight=w, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), tc.grad_clip)
        opt.step()
        sched.step()
        run += float(loss.detach()) * float(w.sum())
        seen += float(w.sum())
    return run, seen


def fit_temperature(raw: RawOutputs, y: np.ndarray) -> float:
    """Temperature in [0.2, 10] minimising the validation log-loss of the combined probability."""
    y = np.asarray(y, dtype=float)

    def nll(log_t: float) -> float:
        p = combine(raw, temperature=float(np.exp(log_t)))[0]
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    res = minimize_scalar(nll, bounds=(np.log(0.2), np.log(10.0)), method="bounded")
    return float(np.exp(res.x))


def fit_model(
    config: MultibranchConfig,
    train: SampleArrays,
    val: SampleArrays,
    *,
    on_epoch: EpochCallback | None = None,
) -> tuple[MultibranchModel, list[EpochLog]]:
    """Train the network(s) of ``config`` and calibrate on ``val``.

    One network for ``uncertainty.method`` ``mc_dropout``/``none``; ``n_members`` for
    ``ensemble``. Temperature and conformal threshold come from the validation rows.
    """
    train, val = _labelled(train), _labelled(val)
    if len(np.unique(train.y)) < 2:
        raise ValueError("training needs both classes (planet and false_positive)")
    uc = config.uncertainty
    n_members = uc.n_members if uc.method == "ensemble" else 1
    scaler = ScalarScaler.fit(train.scalar, train.feature_names)
    nets, logs = [], []
    with torch_threads(config.training.n_threads):
        for i, s in enumerate(member_seeds(config.training.seed, n_members)):
            net, member_logs = fit_network(
                config, train, val, scaler, seed=s, member=i, on_epoch=on_epoch
            )
            nets.append(net)
            logs.extend(member_logs)
    model = MultibranchModel(config=config, nets=nets, scaler=scaler)
    if len(val):
        raw = model.raw_outputs(val)
        if uc.calibrate and len(np.unique(val.y)) == 2:
            model.temperature = fit_temperature(raw, val.y)
        prob = model.from_raw(raw).probability
        model.conformal_q = conformal_threshold(prob, val.y, alpha=uc.conformal_alpha)
    return model, logs
