"""Typed, named model configurations (saved beside every model artifact).

Example
-------
>>> from exoguard.ml.configs import get_config, apply_overrides
>>> cfg = apply_overrides(get_config("small"), ["num_leaves=15", "n_ensemble=3"])
>>> cfg.params.num_leaves, cfg.n_ensemble
(15, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic import ValidationError as PydanticValidationError

from exoguard.errors import ConfigError
from exoguard.ml.features import FEATURE_SETS, resolve_feature_set
from exoguard.ml.overrides import split_override

Mission = Literal["kepler", "k2", "tess", "other"]


class GBMParams(BaseModel):
    """LightGBM hyperparameters (names as in LightGBM)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_estimators: int = Field(default=80, ge=1, le=20000)
    learning_rate: float = Field(default=0.15, gt=0, le=1)
    num_leaves: int = Field(default=15, ge=2, le=4096)
    max_depth: int = Field(default=-1, ge=-1)
    min_child_samples: int = Field(default=20, ge=1)
    subsample: float = Field(default=0.8, gt=0, le=1)
    subsample_freq: int = Field(default=1, ge=0)
    colsample_bytree: float = Field(default=0.8, gt=0, le=1)
    reg_alpha: float = Field(default=0.0, ge=0)
    reg_lambda: float = Field(default=1.0, ge=0)
    min_split_gain: float = Field(default=0.0, ge=0)
    #: Feature name -> +1 (probability may only rise with the feature), -1 (only fall), 0.
    monotone_constraints: dict[str, Literal[-1, 0, 1]] = Field(default_factory=dict)

    @field_validator("monotone_constraints")
    @classmethod
    def _known_monotone(cls, v: dict[str, int]) -> dict[str, int]:
        try:
            resolve_feature_set(tuple(v))
        except AssertionError as exc:
            raise ValueError(str(exc)) from exc
        return v


#: Physical priors of the cross-mission model: an inconsistent duration or depth, a large or
#: low-gravity star and a single-candidate star all make a planet less likely, never more.
TRANSFER_MONOTONE: dict[str, Literal[-1, 0, 1]] = {
    "abs_log_duration_ratio": -1,
    "abs_log_depth_ratio": -1,
    "duration_excess": -1,
    "planet_radius_excess_rearth": -1,
    "star_radius_rsun": -1,
    "star_logg_cgs": 1,
    "star_density_solar": 1,
    "n_candidates_on_host": 1,
}

#: Shallow trees (pairwise interactions at most) with the physical priors: what transfers
#: from Kepler to TESS (see the notes in exoguard.ml.evaluate).
TRANSFER_PARAMS_KW: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 4,
    "max_depth": 2,
    "min_child_samples": 50,
    "monotone_constraints": TRANSFER_MONOTONE,
}


class GBMConfig(BaseModel):
    """Everything that defines a trained gradient-boosted model besides its data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    model: Literal["gbm"] = "gbm"
    #: Feature set (name in ``features.FEATURE_SETS`` or an explicit list) of the deployed model
    #: and of the Kepler cross-validation.
    features: str | tuple[str, ...] = "all"
    #: Feature set of the Kepler-only model scored on TESS and K2 (shared, transferable subset).
    cross_mission_features: str | tuple[str, ...] = "transfer"
    params: GBMParams = GBMParams()
    #: Hyperparameters of the cross-mission model (None: same as ``params``).
    cross_mission_params: GBMParams | None = None
    #: Members of the seeded ensemble; the spread of their probabilities is the uncertainty.
    n_ensemble: int = Field(default=5, ge=1, le=100)
    calibration: Literal["isotonic", "platt", "none"] = "isotonic"
    #: Folds (grouped by star) for the out-of-fold predictions the calibrator is fit on.
    calibration_folds: int = Field(default=5, ge=2, le=20)
    #: Folds of the Kepler cross-validation in ``evaluate``.
    cv_folds: int = Field(default=5, ge=2, le=20)
    #: Missions whose labelled rows train the deployed model.
    train_missions: tuple[Mission, ...] = ("kepler", "tess", "k2")
    seed: int = 42
    n_threads: int = Field(default=1, ge=1, le=256)
    #: Probability at or above which the label is "planet".
    threshold: float = Field(default=0.5, gt=0, lt=1)

    @field_validator("features", "cross_mission_features")
    @classmethod
    def _known_features(cls, v: str | tuple[str, ...]) -> str | tuple[str, ...]:
        try:
            resolve_feature_set(v)
        except AssertionError as exc:
            raise ValueError(str(exc)) from exc
        return v

    @property
    def feature_names(self) -> tuple[str, ...]:
        return resolve_feature_set(self.features)

    @property
    def cross_mission_feature_names(self) -> tuple[str, ...]:
        return resolve_feature_set(self.cross_mission_features)

    @property
    def cross_params(self) -> GBMParams:
        return self.cross_mission_params or self.params


def _default() -> GBMConfig:
    return GBMConfig(name="default", cross_mission_params=GBMParams(**TRANSFER_PARAMS_KW))


def _small() -> GBMConfig:
    """Fast settings for tests and smoke runs (seconds, not minutes)."""
    return GBMConfig(
        name="small",
        params=GBMParams(n_estimators=60, learning_rate=0.15, num_leaves=15),
        n_ensemble=3,
        calibration_folds=3,
        cv_folds=3,
        cross_mission_params=GBMParams(**{**TRANSFER_PARAMS_KW, "n_estimators": 60}),
    )


def _transfer() -> GBMConfig:
    """The deployed model on the cross-mission feature subset."""
    return GBMConfig(
        name="transfer",
        features="transfer",
        params=GBMParams(**TRANSFER_PARAMS_KW),
        cross_mission_params=GBMParams(**TRANSFER_PARAMS_KW),
    )


_REGISTRY: dict[str, Callable[[], GBMConfig]] = {
    "default": _default,
    "small": _small,
    "transfer": _transfer,
}


def config_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get_config(name: str = "default") -> GBMConfig:
    """The named configuration.

    Raises
    ------
    ConfigError
        Unknown name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ConfigError(
            f"unknown model config {name!r}; choose one of {', '.join(_REGISTRY)}"
        ) from None


def apply_overrides(config: GBMConfig, overrides: Sequence[str]) -> GBMConfig:
    """Apply ``NAME=VALUE`` overrides; hyperparameter names go to ``params``.

    ``features=a,b,c`` sets an explicit list; ``params.num_leaves=15`` and ``num_leaves=15``
    are the same. Unknown names and bad values raise :class:`ConfigError`.
    """
    data = config.model_dump()
    param_fields = set(GBMParams.model_fields)
    for item in overrides:
        key, value = split_override(item)
        if key.startswith("params."):
            key = key.removeprefix("params.")
            target = data["params"]
        elif key.startswith("cross_mission_params."):
            key = key.removeprefix("cross_mission_params.")
            data["cross_mission_params"] = data["cross_mission_params"] or dict(data["params"])
            target = data["cross_mission_params"]
        elif key in param_fields:
            target = data["params"]
        elif key in GBMConfig.model_fields:
            target = data
        else:
            known = sorted(set(GBMConfig.model_fields) | param_fields)
            raise ConfigError(f"unknown parameter {key!r}; known: {', '.join(known)}")
        if key in ("features", "cross_mission_features") and isinstance(value, str):
            value = value if value in FEATURE_SETS else (value,)
        if key == "train_missions" and isinstance(value, str):
            value = (value,)
        target[key] = value
    try:
        return GBMConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise ConfigError(f"invalid model config: {exc}") from exc
