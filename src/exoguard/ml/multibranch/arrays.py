"""Model-ready arrays (numpy) and their conversion to torch batches.

:class:`SampleArrays` is what the dataset builder produces and the trainer consumes: one
row per candidate (an injected signal, a real light-curve candidate or a catalog row).
:class:`ScalarScaler` standardises the scalar features (``asinh`` then z-score, NaN kept
as "missing"); it is fit on training rows and saved as JSON beside the checkpoint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from exoguard.ml.multibranch.model import Batch

#: Array fields of :class:`SampleArrays` with their dtypes in the cache file.
_FLOAT_FIELDS = ("ts", "global_view", "local_view", "image", "scalar")


@dataclass(frozen=True, eq=False)
class SampleArrays:
    """Inputs, labels and bookkeeping of N candidates.

    Attributes
    ----------
    ts : ndarray, float32, shape (N, 3, n_bins)
    global_view : ndarray, float32, shape (N, 1, 2001)
    local_view : ndarray, float32, shape (N, 4, 201)
    image : ndarray, float32, shape (N, 1, image_transits, image_phase_bins)
    scalar : ndarray, float64, shape (N, F)
        Raw scalar features (NaN where missing), in ``feature_names`` order.
    has_lc : ndarray, bool, shape (N,)
    y : ndarray, int8, shape (N,)
        1 planet, 0 false positive, -1 unknown.
    kind : ndarray, str, shape (N,)
        Signal kind (``planet``, ``eb``, ...) or ``catalog`` / ``real``.
    group : ndarray, str, shape (N,)
        The star the row belongs to (splits never divide a star).
    weight : ndarray, float32, shape (N,)
        Loss weight.
    feature_names : tuple of str
    """

    ts: np.ndarray
    global_view: np.ndarray
    local_view: np.ndarray
    image: np.ndarray
    scalar: np.ndarray
    has_lc: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    group: np.ndarray
    weight: np.ndarray
    feature_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: np.ndarray) -> SampleArrays:
        """Rows ``index`` (bool mask or integer indices)."""
        idx = np.asarray(index)
        kw: dict[str, Any] = {
            f.name: getattr(self, f.name)[idx] for f in fields(self) if f.name != "feature_names"
        }
        return SampleArrays(**kw, feature_names=self.feature_names)

    @staticmethod
    def concat(parts: list[SampleArrays]) -> SampleArrays:
        """Rows of several sets with the same shapes and features, in order."""
        if not parts:
            raise ValueError("nothing to concatenate")
        names = parts[0].feature_names
        if any(p.feature_names != names for p in parts):
            raise ValueError("cannot concatenate sample sets with different scalar features")
        kw: dict[str, Any] = {
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(SampleArrays)
            if f.name != "feature_names"
        }
        return SampleArrays(**kw, feature_names=names)

    @staticmethod
    def empty_lc(
        n: int, *, n_bins: int, image_shape: tuple[int, int], feature_names: tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        """Zero light-curve inputs for ``n`` rows (catalog rows)."""
        return {
            "ts": np.zeros((n, 3, n_bins), np.float32),
            "global_view": np.zeros((n, 1, 2001), np.float32),
            "local_view": np.zeros((n, 4, 201), np.float32),
            "image": np.zeros((n, 1, *image_shape), np.float32),
        }

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (views as float16 to halve the cache; strings as str)."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "feature_names":
                out[f.name] = np.asarray(v, dtype=str)
            elif f.name in _FLOAT_FIELDS and f.name != "scalar":
                out[f.name] = np.asarray(v, dtype=np.float16)
            elif f.name in ("kind", "group"):
                out[f.name] = np.asarray(v, dtype=str)
            else:
                out[f.name] = np.asarray(v)
        return out

    @classmethod
    def from_npz(cls, data: Any) -> SampleArrays:
        """Inverse of :meth:`to_npz_dict` (``data`` from ``np.load(..., allow_pickle=False)``)."""
        kw: dict[str, Any] = {}
        for f in fields(cls):
            v = data[f.name]
            if f.name == "feature_names":
                kw[f.name] = tuple(str(x) for x in v)
            elif f.name in _FLOAT_FIELDS and f.name != "scalar":
                kw[f.name] = np.asarray(v, dtype=np.float32)
            elif f.name in ("kind", "group"):
                kw[f.name] = np.asarray(v, dtype=object).astype(str)
            else:
                kw[f.name] = np.asarray(v)
        return cls(**kw)

    def digest(self) -> str:
        """SHA-256 (hex) of every array: the training-data hash saved with a model."""
        h = hashlib.sha256()
        for name, arr in sorted(self.to_npz_dict().items()):
            h.update(name.encode())
            a = np.ascontiguousarray(arr)
            h.update(str(a.dtype).encode() + str(a.shape).encode())
            h.update(a.tobytes() if a.dtype.kind != "U" else "\x1f".join(a.tolist()).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class ScalarScaler:
    """``z = (asinh(x / scale0) - mean) / std`` per feature; NaN → 0 with a missing flag.

    ``scale0`` (a per-feature median of |x|) makes ``asinh`` act as a log for large
    values and stay linear near zero, which tames heavy tails (depths, SNR, insolation).
    """

    feature_names: tuple[str, ...]
    scale0: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, x: np.ndarray, feature_names: tuple[str, ...]) -> ScalarScaler:
        """Fit on raw features ``x`` (n, F); NaN ignored."""
        x = np.asarray(x, dtype=np.float64)
        scale0, mean, std = [], [], []
        for j in range(x.shape[1]):
            col = x[:, j][np.isfinite(x[:, j])]
            s0 = float(np.median(np.abs(col))) if col.size else 1.0
            s0 = s0 if s0 > 0 else 1.0
            t = np.arcsinh(col / s0)
            m = float(t.mean()) if t.size else 0.0
            sd = float(t.std()) if t.size > 1 else 1.0
            scale0.append(s0)
            mean.append(m)
            std.append(sd if sd > 1e-9 else 1.0)
        return cls(tuple(feature_names), tuple(scale0), tuple(mean), tuple(std))

    def transform(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw (n, F) → (standardised values with 0 for missing, missing flags), float32."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape[1] != len(self.feature_names):
            raise ValueError(
                f"scalar matrix has {x.shape[1]} columns, the scaler {len(self.feature_names)}"
            )
        missing = ~np.isfinite(x)
        with np.errstate(invalid="ignore"):
            z = (np.arcsinh(x / np.asarray(self.scale0)) - np.asarray(self.mean)) / np.asarray(
                self.std
            )
        z = np.clip(np.where(missing, 0.0, z), -10.0, 10.0)
        return z.astype(np.float32), missing.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names),
            "scale0": list(self.scale0),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScalarScaler:
        return cls(tuple(d["feature_names"]), tuple(d["scale0"]), tuple(d["mean"]), tuple(d["std"]))


def to_batch(data: SampleArrays, scaler: ScalarScaler, index: np.ndarray | None = None) -> Batch:
    """Torch batch of rows ``index`` (all rows when None)."""
    d = data if index is None else data.subset(index)
    z, miss = scaler.transform(d.scalar)
    return Batch(
        ts=torch.from_numpy(np.ascontiguousarray(d.ts, dtype=np.float32)),
        global_view=torch.from_numpy(np.ascontiguousarray(d.global_view, dtype=np.float32)),
        local_view=torch.from_numpy(np.ascontiguousarray(d.local_view, dtype=np.float32)),
        image=torch.from_numpy(np.ascontiguousarray(d.image, dtype=np.float32)),
        scalar=torch.from_numpy(z),
        scalar_missing=torch.from_numpy(miss),
        has_lc=torch.from_numpy(np.asarray(d.has_lc, dtype=bool)),
    )
