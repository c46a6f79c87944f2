"""A trained multi-branch model: probability, uncertainty, conformal sets; save and load.

Probability and uncertainty
---------------------------
Every stochastic pass ``s`` (a Monte-Carlo dropout mask, or an ensemble member) gives a
Gaussian logit ``N(mu_s, sigma_s^2)``, divided by the calibration temperature ``T``. With
``p_s = E[sigmoid(z)]`` and ``v_s = Var[sigmoid(z)]`` (Gauss–Hermite quadrature):

* ``probability = mean_s p_s``
* ``epistemic = std_s p_s`` (model uncertainty: dropout masks or members disagree)
* ``aleatoric = sqrt(mean_s v_s)`` (the predicted logit spread: the data are ambiguous)
* ``uncertainty = sqrt(epistemic^2 + aleatoric^2)``, a standard deviation of the
  probability, in [0, 0.5].

A prediction is flagged ``uncertain`` when the split-conformal 90 % prediction set is not
a single label, or when ``uncertainty`` exceeds ``config.uncertainty.uncertain_threshold``.

Checkpoints
-----------
A directory holding ``member_XX.pt`` (``state_dict`` tensors only, written by
``torch.save`` and read with ``weights_only=True``), ``config.json`` (the typed config),
``model.json`` (scaler, temperature, conformal threshold, feature names) — nothing pickled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from exoguard.errors import ModelNotReadyError
from exoguard.ml.multibranch.arrays import SampleArrays, ScalarScaler, to_batch
from exoguard.ml.multibranch.configs import MultibranchConfig
from exoguard.ml.multibranch.model import MultibranchNet, gaussian_logit_moments

logger = logging.getLogger(__name__)

#: Rows per forward pass at prediction time.
PREDICT_BATCH = 256
#: Seed of the Monte-Carlo dropout masks at prediction time (results are reproducible).
MC_SEED = 20240601


#: Most threads :func:`torch_threads` gives a block in this process (None: no cap).
_thread_cap: int | None = None


def cap_threads(n: int | None) -> None:
    """Never give a block more than `n` torch threads in this process (None: no cap).

    A process that runs one per core (a survey or Celery worker process) sets 1: a model's
    ``n_threads`` would otherwise put two threads per core, which spin against each other
    (about ten times the CPU seconds of one thread on a busy machine).
    """
    global _thread_cap
    if n is not None and n < 1:
        raise ValueError(f"the thread cap must be at least 1 or None; got {n}")
    _thread_cap = n


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(n)`` (at most the process's cap, see
    :func:`cap_threads`), restoring the previous value."""
    before = torch.get_num_threads()
    n = max(1, int(n))
    torch.set_num_threads(n if _thread_cap is None else min(n, _thread_cap))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class RawOutputs:
    """Logit means and spreads of every pass, shape (n, S) (S passes), before temperature."""

    mu: np.ndarray
    sigma: np.ndarray


@dataclass(frozen=True)
class Prediction:
    """Per-candidate outputs, each shape (n,).

    ``prediction_set`` holds the labels of the conformal set: 0 ``{false_positive}``,
    1 ``{planet}``, 2 ``{both}``, -1 ``{}`` (empty).
    """

    probability: np.ndarray
    uncertainty: np.ndarray
    epistemic: np.ndarray
    aleatoric: np.ndarray
    prediction_set: np.ndarray
    uncertain: np.ndarray
    label: np.ndarray


def combine(raw: RawOutputs, *, temperature: float) -> tuple[np.ndarray, ...]:
    """``(probability, uncertainty, epistemic, aleatoric)`` from raw passes (see module doc)."""
    mu = torch.from_numpy(np.asarray(raw.mu, dtype=np.float64)) / temperature
    sigma = torch.from_numpy(np.asarray(raw.sigma, dtype=np.float64)) / temperature
    m, v = gaussian_logit_moments(mu, sigma)
    p_s = m.numpy()
    prob = p_s.mean(axis=1)
    epi = p_s.std(axis=1) if p_s.shape[1] > 1 else np.zeros(len(prob))
    alea = np.sqrt(v.numpy().mean(axis=1))
    unc = np.sqrt(epi**2 + alea**2)
    return prob, unc, epi, alea


def conformal_sets(prob: np.ndarray, q_hat: float) -> np.ndarray:
    """Split-conformal sets with score ``1 - p(label)``: codes as in :class:`Prediction`."""
    has1 = (1.0 - prob) <= q_hat
    has0 = prob <= q_hat
    return np.where(has1 & has0, 2, np.where(has1, 1, np.where(has0, 0, -1)))


def conformal_threshold(prob: np.ndarray, y: np.ndarray, *, alpha: float) -> float:
    """The ``ceil((n+1)(1-alpha))/n`` quantile of the calibration scores ``1 - p(y)``."""
    y = np.asarray(y, dtype=int)
    scores = np.where(y == 1, 1.0 - prob, prob)
    n = len(scores)
    if n == 0:
        return 1.0
    level = min(1.0, np.ceil((n + 1) * (1 - alpha)) / n)
    return float(np.quantile(scores, level, method="higher"))


@dataclass
class MultibranchModel:
    """Networks (one, or the members of a deep ensemble) with their scaler and calibration.

    Attributes
    ----------
    config : MultibranchConfig
    nets : list of MultibranchNet
    scaler : ScalarScaler
    temperature : float
        Logits are divided by it (fit on the validation set; 1 = none).
    conformal_q : float
        Split-conformal threshold on ``1 - p(label)``.
    meta : dict
        Provenance saved with the checkpoint (data hash, metrics, timings ...).
    """

    config: MultibranchConfig
    nets: list[MultibranchNet]
    scaler: ScalarScaler
    temperature: float = 1.0
    conformal_q: float = 1.0
    meta: dict[str, Any] | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.scaler.feature_names

    # ------------------------------------------------------------------ inference
    def raw_outputs(
        self, data: SampleArrays, *, method: str | None = None, n_threads: int | None = None
    ) -> RawOutputs:
        """Logit mean/spread of every stochastic pass for every row, shapes (n, S)."""
        method = method or self.config.uncertainty.method
        n_mc = self.config.uncertainty.mc_samples if method == "mc_dropout" else 1
        nets = self.nets if method == "ensemble" else self.nets[:1]
        mus, sigmas = [], []
        threads = n_threads or self.config.training.n_threads
        with torch_threads(threads), torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(MC_SEED)
            for start in range(0, len(data), PREDICT_BATCH):
                idx = np.arange(start, min(len(data), start + PREDICT_BATCH))
                batch = to_batch(data, self.scaler, idx)
                m_cols: list[np.ndarray] = []
                s_cols: list[np.ndarray] = []
                for net in nets:
                    net.eval()
                    enc = net.encode(batch)
                    # all n_mc passes in one call, with the masks of n_mc successive calls;
                    # one deterministic pass (shape (1, B)) otherwise
                    if method == "mc_dropout":
                        mu, ls = net.head_passes(enc, n_mc)
                    else:
                        mu, ls = (t.unsqueeze(0) for t in net.head(enc))
                    m_cols.extend(mu.double().numpy())
                    s_cols.extend(ls.double().exp().numpy())
                mus.append(np.stack(m_cols, axis=1))
                sigmas.append(np.stack(s_cols, axis=1))
        if not mus:
            s = n_mc * len(nets)
            return RawOutputs(np.zeros((0, s)), np.zeros((0, s)))
        return RawOutputs(np.concatenate(mus), np.concatenate(sigmas))

    def predict(self, data: SampleArrays, *, method: str | None = None) -> Prediction:
        """Calibrated probability, uncertainty, conformal set, label of every row."""
        raw = self.raw_outputs(data, method=method)
        return self.from_raw(raw)

    def from_raw(self, raw: RawOutputs) -> Prediction:
        prob, unc, epi, alea = combine(raw, temperature=self.temperature)
        sets = conformal_sets(prob, self.conformal_q)
        uncertain = (sets != 0) & (sets != 1) | (unc > self.config.uncertainty.uncertain_threshold)
        label = (prob >= self.config.threshold).astype(np.int8)
        return Prediction(
            probability=prob,
            uncertainty=unc,
            epistemic=epi,
            aleatoric=alea,
            prediction_set=sets,
            uncertain=uncertain,
            label=label,
        )

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write the checkpoint (tensors + JSON only) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        for i, net in enumerate(self.nets):
            state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            torch.save(state, directory / f"member_{i:02d}.pt")
        (directory / "config.json").write_text(self.config.to_json())
        model_json = {
            "format": "exoguard-multibranch-1",
            "n_members": len(self.nets),
            "n_scalar_features": len(self.feature_names),
            "scaler": self.scaler.to_dict(),
            "temperature": self.temperature,
            "conformal_q": self.conformal_q,
            "meta": self.meta or {},
        }
        (directory / "model.json").write_text(json.dumps(model_json, indent=2, default=float))

    @classmethod
    def load(cls, directory: Path) -> MultibranchModel:
        """Read a checkpoint written by :meth:`save` (``torch.load(weights_only=True)``).

        Raises
        ------
        ModelNotReadyError
            Missing or unreadable files.
        """
        try:
            config = MultibranchConfig.from_json((directory / "config.json").read_text())
            info = json.loads((directory / "model.json").read_text())
            nets = []
            for i in range(int(info["n_members"])):
                net = MultibranchNet(config, n_scalar_features=int(info["n_scalar_features"]))
                state = torch.load(
                    directory / f"member_{i:02d}.pt", weights_only=True, map_location="cpu"
                )
                net.load_state_dict(state)
                net.eval()
                nets.append(net)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelNotReadyError(
                f"cannot load multibranch model from {directory}: {exc}"
            ) from exc
        return cls(
            config=config,
            nets=nets,
            scaler=ScalarScaler.from_dict(info["scaler"]),
            temperature=float(info["temperature"]),
            conformal_q=float(info["conformal_q"]),
            meta=dict(info.get("meta") or {}),
        )

    def size_bytes(self) -> int:
        """Bytes of the parameters (float32) of all members."""
        return sum(p.numel() * p.element_size() for n in self.nets for p in n.state_dict().values())
