"""Typed, named configurations of the multi-branch classifier (saved beside every checkpoint).

A configuration fixes the architecture (which branches, their sizes), the training
schedule, how the uncertainty is estimated, and how the injected training set is
generated. The named configurations and the ``NAME=VALUE`` overrides live in
:mod:`exoguard.ml.multibranch.config_registry`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError

from exoguard.errors import ConfigError

BRANCHES: tuple[str, ...] = ("timeseries", "views", "scalar")

#: Kinds of injected signal; the first three are labelled planet (1) / false positive (0)
#: as in ``SIGNAL_LABELS``.
SIGNAL_KINDS: tuple[str, ...] = (
    "planet",
    "eb",
    "beb",
    "variability",
    "systematic",
    "outlier",
    "noise",
)
SIGNAL_LABELS: dict[str, int] = {k: int(k == "planet") for k in SIGNAL_KINDS}

#: Lengths of the AstroNet-style phase-folded views (fixed by ``exoguard.core.views``).
GLOBAL_VIEW_BINS = 2001
LOCAL_VIEW_BINS = 201


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeSeriesBranchConfig(_Strict):
    """Branch 1: a Transformer encoder over the binned, detrended time series.

    The series is binned to ``n_bins`` bins over the whole baseline; each bin carries three
    channels (dip significance, candidate in-transit fraction, data present). Consecutive
    ``patch_size`` bins form one token, so the encoder sees ``n_bins / patch_size`` tokens.
    """

    enabled: bool = True
    n_bins: int = Field(default=1024, ge=16, le=65536)
    patch_size: int = Field(default=8, ge=1, le=256)
    d_model: int = Field(default=128, ge=8, le=1024)
    n_layers: int = Field(default=4, ge=1, le=24)
    n_heads: int = Field(default=8, ge=1, le=64)
    ff_dim: int = Field(default=512, ge=8, le=8192)
    dropout: float = Field(default=0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _shapes(self) -> TimeSeriesBranchConfig:
        if self.n_bins % self.patch_size:
            raise ValueError(
                f"timeseries.n_bins ({self.n_bins}) must be a multiple of "
                f"timeseries.patch_size ({self.patch_size})"
            )
        if self.d_model % self.n_heads:
            raise ValueError(
                f"timeseries.d_model ({self.d_model}) must be a multiple of "
                f"timeseries.n_heads ({self.n_heads})"
            )
        return self

    @property
    def n_tokens(self) -> int:
        return self.n_bins // self.patch_size


class ViewBranchConfig(_Strict):
    """Branch 2: 1-D CNNs over the global (2001) and local (201) views, 2-D CNN over the
    phase × transit-number image.

    The global view has 1 channel; the local view 4 channels (flux, odd transits, even
    transits, secondary eclipse at phase 0.5), all on the local view's depth scale (see
    ``exoguard.core.views``). Each 1-D block is
    ``conv(k) → ReLU → conv(k) → ReLU → maxpool(pool_size, stride 2)``; the image goes
    through ``conv 3×3 (image_channels[0]) → maxpool 2 → conv 3×3 (image_channels[1]) →
    global average pool`` as in the design.
    """

    enabled: bool = True
    global_channels: tuple[int, ...] = (16, 32, 64, 128)
    local_channels: tuple[int, ...] = (16, 32, 64)
    kernel_size: int = Field(default=5, ge=1, le=31)
    pool_size: int = Field(default=5, ge=1, le=15)
    image_channels: tuple[int, int] = (32, 64)
    image_transits: int = Field(default=32, ge=2, le=512)
    image_phase_bins: int = Field(default=64, ge=8, le=1024)
    out_dim: int = Field(default=128, ge=8, le=2048)
    dropout: float = Field(default=0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _nonempty(self) -> ViewBranchConfig:
        if not self.global_channels or not self.local_channels:
            raise ValueError("views.global_channels and views.local_channels need >= 1 entry")
        return self


class ScalarBranchConfig(_Strict):
    """Branch 3: an MLP over scalar features and diagnostics (hidden → dropout → out)."""

    enabled: bool = True
    hidden: int = Field(default=128, ge=4, le=4096)
    dropout: float = Field(default=0.3, ge=0, lt=1)
    out_dim: int = Field(default=64, ge=4, le=4096)


class FusionConfig(_Strict):
    """Concatenated branch embeddings → dense ``hidden`` → (logit mean, log-spread)."""

    hidden: int = Field(default=256, ge=4, le=4096)
    dropout: float = Field(default=0.3, ge=0, lt=1)
    #: Predict a per-candidate logit spread (heteroscedastic); False: spread fixed at 0.
    heteroscedastic: bool = True


class TrainingConfig(_Strict):
    """Optimisation schedule (AdamW, cosine decay, early stopping on validation loss)."""

    epochs: int = Field(default=30, ge=1, le=1000)
    batch_size: int = Field(default=64, ge=2, le=8192)
    learning_rate: float = Field(default=1e-3, gt=0, le=1)
    weight_decay: float = Field(default=1e-4, ge=0, le=1)
    #: Stop after this many epochs without improvement of the validation loss.
    patience: int = Field(default=5, ge=1, le=1000)
    #: Monte-Carlo draws of the logit noise in the heteroscedastic loss.
    loss_samples: int = Field(default=16, ge=1, le=1024)
    #: Probability of hiding the light-curve branches of a light-curve sample, so that the
    #: scalar branch alone (how catalog rows are scored) also learns.
    modality_dropout: float = Field(default=0.1, ge=0, lt=1)
    #: Fraction of training hosts' samples held back for early stopping and calibration.
    validation_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    grad_clip: float = Field(default=5.0, gt=0)
    seed: int = 42
    n_threads: int = Field(default=2, ge=1, le=256)


class UncertaintyConfig(_Strict):
    """How the probability and its uncertainty are formed.

    ``mc_dropout``: ``mc_samples`` stochastic passes of the dropout layers after the
    encoders (the encoders run once). ``ensemble``: ``n_members`` independently seeded
    models. ``none``: the heteroscedastic spread alone. In every case the logit spread
    predicted by the model is propagated into the probability.
    """

    method: Literal["mc_dropout", "ensemble", "none"] = "mc_dropout"
    mc_samples: int = Field(default=30, ge=2, le=1000)
    n_members: int = Field(default=3, ge=2, le=20)
    #: Temperature scaling of the logits fit on the validation set.
    calibrate: bool = True
    #: Miscoverage of the split-conformal prediction sets (0.1: 90 % sets).
    conformal_alpha: float = Field(default=0.1, gt=0, lt=0.5)
    #: A prediction whose uncertainty (std of the probability) exceeds this is "uncertain".
    uncertain_threshold: float = Field(default=0.15, gt=0, lt=0.5)


class Range(_Strict):
    """A closed interval ``[lo, hi]`` sampled uniformly (``log=True``: log-uniformly)."""

    lo: float
    hi: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.hi >= self.lo:
            raise ValueError(f"range needs lo <= hi, got lo={self.lo}, hi={self.hi}")
        if self.log and self.lo <= 0:
            raise ValueError(f"a log range needs lo > 0, got lo={self.lo}")
        return self


class InjectionConfig(_Strict):
    """The injected training set: label mix, parameter ranges, seed, host split.

    Planets are batman transits (quadratic limb darkening); eclipsing binaries have a
    primary and a secondary eclipse and may be grazing (V-shaped); background binaries
    are eclipsing binaries diluted by the target's light; non-transiting signals are
    stellar variability, instrumental systematics, single outliers and plain noise.
    """

    #: Samples drawn on the training hosts (train + validation) and on the test hosts.
    n_samples: int = Field(default=10000, ge=10, le=1_000_000)
    n_test: int = Field(default=1500, ge=10, le=1_000_000)
    #: Relative weights of the kinds of signal (normalised to sum to 1).
    mix: dict[str, float] = Field(
        default_factory=lambda: {
            "planet": 0.45,
            "eb": 0.14,
            "beb": 0.14,
            "variability": 0.09,
            "systematic": 0.10,
            "outlier": 0.06,
            "noise": 0.02,
        }
    )
    period_days: Range = Range(lo=0.5, hi=40.0, log=True)
    min_transits: int = Field(default=2, ge=1, le=100)
    planet_radius_rearth: Range = Range(lo=0.7, hi=22.0, log=True)
    impact: Range = Range(lo=0.0, hi=0.95)
    #: Expected SNR of the injected transits (a search would not report weaker ones; the
    #: bundled real Kepler candidates reach SNR 280-640 in one quarter: hot Jupiters).
    snr: Range = Range(lo=8.0, hi=1000.0, log=True)
    #: Density prior of background binaries (and of targets without catalog parameters).
    star_density_solar: Range = Range(lo=0.2, hi=3.0, log=True)
    #: Scatter (dex) of a target's true density around its catalog value.
    density_scatter_dex: float = Field(default=0.1, ge=0, le=1)
    limb_u1: Range = Range(lo=0.2, hi=0.6)
    limb_u2: Range = Range(lo=0.05, hi=0.35)
    eb_radius_ratio: Range = Range(lo=0.15, hi=0.9)
    #: Log-uniform: many companions are faint M dwarfs with weak secondary eclipses.
    eb_surface_brightness_ratio: Range = Range(lo=0.005, hi=1.0, log=True)
    #: Fraction of the background binary's light in the aperture.
    beb_dilution: Range = Range(lo=0.002, hi=0.1, log=True)
    variability_period_days: Range = Range(lo=0.3, hi=8.0, log=True)
    variability_amplitude_ppm: Range = Range(lo=200.0, hi=10000.0, log=True)
    #: A sample is kept only when its candidate's measured SNR reaches this: the transit
    #: search reports nothing weaker (``DEFAULT_SNR_THRESHOLD`` of the search).
    min_candidate_snr: float = Field(default=7.0, ge=0)
    #: Errors of a search's ephemeris: t0 error in units of the duration, duration ratio.
    t0_error_durations: float = Field(default=0.08, ge=0, le=1)
    duration_error_fraction: float = Field(default=0.15, ge=0, le=1)
    #: Fraction of the distinct host stars whose light curves form the held-out test set.
    test_host_fraction: float = Field(default=0.3, gt=0, lt=1)
    #: Probability that a sample uses a random contiguous stretch of its host (length a
    #: fraction ``crop_fraction`` of the baseline, at least ``min_host_days``): more variety
    #: of noise and baselines from few hosts.
    crop_probability: float = Field(default=0.5, ge=0, le=1)
    crop_fraction: Range = Range(lo=0.4, hi=1.0)
    min_host_days: float = Field(default=5.0, gt=0)
    #: Width of the mask over the catalog's known transits of a host, in durations.
    known_transit_mask_durations: float = Field(default=2.5, ge=1, le=10)
    #: Share of the planets, eclipsing/background binaries and systematics drawn with only
    #: one or two events in the host's span (half each): long-period planets as users
    #: bring them, and binaries and isolated instrumental dips that look the same. Their
    #: candidate ephemeris is what the coarse search reports (often an alias).
    few_transit_fraction: float = Field(default=0.2, ge=0, le=1)
    #: Share of the samples with a second signal on the same star: a second planet (for
    #: planets, background binaries and false alarms) or, for an eclipsing binary, its
    #: secondary eclipse reported as a second candidate. The label stays the first one's.
    multi_signal_fraction: float = Field(default=0.2, ge=0, le=1)
    #: Relative weights of the host missions (``kepler``, ``k2``, ``tess``, ``other``) when
    #: a sample picks its host; empty: every host star equally likely.
    host_mission_weights: dict[str, float] = Field(default_factory=dict)
    seed: int = 12345

    @model_validator(mode="after")
    def _mix(self) -> InjectionConfig:
        unknown = sorted(set(self.mix) - set(SIGNAL_KINDS))
        if unknown:
            raise ValueError(f"unknown signal kinds {unknown}; choose from {SIGNAL_KINDS}")
        if any(v < 0 for v in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError("mix weights must be >= 0 with a positive sum")
        if not any(self.mix.get(k, 0) > 0 for k in ("planet",)):
            raise ValueError("mix needs a positive weight for 'planet'")
        missions = ("kepler", "k2", "tess", "other")
        bad = sorted(set(self.host_mission_weights) - set(missions))
        if bad:
            raise ValueError(f"unknown host missions {bad}; choose from {missions}")
        weights = self.host_mission_weights.values()
        if self.host_mission_weights and (any(v < 0 for v in weights) or sum(weights) <= 0):
            raise ValueError("host_mission_weights need weights >= 0 with a positive sum")
        return self


class DataConfig(_Strict):
    """Which data train the model besides the injected set."""

    injection: InjectionConfig = InjectionConfig()
    #: Labelled catalog rows (scalar branch alone) of these missions join training;
    #: the other missions' rows are only scored (cross-mission figures).
    catalog_train_missions: tuple[Literal["kepler", "k2", "tess"], ...] = ("kepler",)
    #: Fraction of Kepler stars whose KOIs are held out (grouped by star) for evaluation.
    catalog_test_fraction: float = Field(default=0.2, gt=0, lt=1)
    #: At most this many catalog rows join training (None: all).
    max_catalog_rows: int | None = Field(default=None, ge=10)
    #: Weight of a catalog row in the loss relative to a light-curve sample.
    catalog_weight: float = Field(default=1.0, ge=0)


class MultibranchConfig(_Strict):
    """Everything that defines a trained multi-branch model besides its data."""

    name: str = "base"
    model: Literal["multibranch"] = "multibranch"
    timeseries: TimeSeriesBranchConfig = TimeSeriesBranchConfig()
    views: ViewBranchConfig = ViewBranchConfig()
    scalar: ScalarBranchConfig = ScalarBranchConfig()
    fusion: FusionConfig = FusionConfig()
    training: TrainingConfig = TrainingConfig()
    uncertainty: UncertaintyConfig = UncertaintyConfig()
    data: DataConfig = DataConfig()
    #: Probability at or above which the label is "planet".
    threshold: float = Field(default=0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _some_branch(self) -> MultibranchConfig:
        if not self.enabled_branches:
            raise ValueError(f"at least one branch of {BRANCHES} must be enabled")
        return self

    @property
    def enabled_branches(self) -> tuple[str, ...]:
        return tuple(b for b in BRANCHES if getattr(self, b).enabled)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MultibranchConfig:
        try:
            return cls.model_validate_json(text)
        except PydanticValidationError as exc:
            raise ConfigError(f"invalid multibranch config: {exc}") from exc


def config_hash(obj: BaseModel) -> str:
    """SHA-256 (hex, 16 characters) of a config's canonical JSON."""
    text = json.dumps(obj.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
