"""The named configurations of the multi-branch classifier, and ``NAME=VALUE`` overrides.

Configurations are built by named builder functions in a registry (AstroNet style);
``NAME=VALUE`` overrides address a field by its dotted path (``timeseries.n_layers=2``) or,
when unambiguous, by its leaf name (``epochs=5``). The fields themselves are defined in
:mod:`exoguard.ml.multibranch.configs`.

Registry
--------
``design``
    The architecture of the original design: Transformer with 4 layers, d_model 128,
    8 heads, feed-forward 512; full-size CNN and MLP.
``base``
    The default for ``exoguard train --model multibranch``: the same three branches sized
    to train in well under 30 minutes on a 2-core CPU (see ``bench/multibranch.py``).
``default``
    ``base``'s branches trained on the data users bring as well: hosts balanced between
    Kepler, K2 and TESS, a quarter of the signals with one or two events only, a quarter
    with a second signal on the star; sized so that building the injected set and
    training take at most about 10 minutes on a 2-core CPU.
``small``
    A few-second model for tests and smoke runs.
``no_timeseries``, ``no_views``, ``no_scalar``
    ``base`` with one branch switched off (ablation).

Example
-------
>>> from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
>>> cfg = apply_overrides(get_config("small"), ["epochs=3", "timeseries.enabled=false"])
>>> cfg.training.epochs, cfg.timeseries.enabled
(3, False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from exoguard.errors import ConfigError
from exoguard.ml.multibranch.configs import (
    DataConfig,
    FusionConfig,
    InjectionConfig,
    MultibranchConfig,
    Range,
    ScalarBranchConfig,
    TimeSeriesBranchConfig,
    TrainingConfig,
    UncertaintyConfig,
    ViewBranchConfig,
)
from exoguard.ml.overrides import split_override


# ---------------------------------------------------------------------- named builders
def _design() -> MultibranchConfig:
    return MultibranchConfig(name="design")


def _base() -> MultibranchConfig:
    return MultibranchConfig(
        name="base",
        timeseries=TimeSeriesBranchConfig(
            n_bins=512, patch_size=8, d_model=64, n_layers=2, n_heads=4, ff_dim=128
        ),
        views=ViewBranchConfig(
            global_channels=(16, 16, 32, 32),
            local_channels=(16, 32),
            out_dim=64,
            image_channels=(16, 32),
        ),
        scalar=ScalarBranchConfig(hidden=128, dropout=0.3, out_dim=64),
        fusion=FusionConfig(hidden=128, dropout=0.3),
        # two threads: an epoch takes about half as long on 2 cores (64 s for 30,000 samples
        # against 80 s for 20,000 with one thread)
        training=TrainingConfig(epochs=15, batch_size=64, patience=4, n_threads=2),
        # 20,000 injected samples: held-out ROC AUC 0.988 (0.982 on draws of SNR <= 200)
        # with local-linear detrending edges and SNR up to 1000; 0.978 before those,
        # 0.967 with 10,000 samples; 30,000 gave no more. 21.7 min to build the set and
        # train on 2 CPUs (multibranch-0005 of 2026-12-05, README).
        data=DataConfig(injection=InjectionConfig(n_samples=20000)),
    )


def _default() -> MultibranchConfig:
    """``base``'s architecture on K2/Kepler/TESS hosts, few-event and multi-signal samples,
    sized for <= ~10 minutes (set + training) on 2 CPUs."""
    base = _base()
    return MultibranchConfig(
        name="default",
        timeseries=base.timeseries,
        views=base.views,
        scalar=base.scalar,
        fusion=base.fusion,
        # `exoguard train --model multibranch --config default --no-real` on the shared 2-CPU
        # machine
        # (load 3-5 from other jobs): set 304 s, 14 epochs 245 s (7-45 s each), 9.3 min
        # in all, 711 CPU-s; held-out injected ROC AUC 0.944 (1-2 events: 0.873)
        training=TrainingConfig(epochs=14, batch_size=64, patience=4, n_threads=2),
        data=DataConfig(
            injection=InjectionConfig(
                n_samples=5000,
                n_test=1000,
                few_transit_fraction=0.25,
                multi_signal_fraction=0.25,
                # 49 K2 stars against 14 Kepler and 5 TESS: balance by mission, not by star
                host_mission_weights={"kepler": 0.4, "k2": 0.35, "tess": 0.25},
            ),
            max_catalog_rows=1500,
        ),
    )


def _small() -> MultibranchConfig:
    """Seconds to train: for tests and smoke runs."""
    return MultibranchConfig(
        name="small",
        timeseries=TimeSeriesBranchConfig(
            n_bins=128, patch_size=8, d_model=16, n_layers=1, n_heads=2, ff_dim=32
        ),
        views=ViewBranchConfig(
            global_channels=(4, 8),
            local_channels=(4, 8),
            out_dim=16,
            image_channels=(4, 8),
            image_transits=8,
            image_phase_bins=32,
        ),
        scalar=ScalarBranchConfig(hidden=16, out_dim=8),
        fusion=FusionConfig(hidden=16),
        training=TrainingConfig(epochs=4, batch_size=32, patience=2, loss_samples=4, n_threads=1),
        uncertainty=UncertaintyConfig(mc_samples=8),
        data=DataConfig(
            injection=InjectionConfig(n_samples=120, n_test=60),
            max_catalog_rows=300,
        ),
    )


def _without(branch: str) -> Callable[[], MultibranchConfig]:
    def build() -> MultibranchConfig:
        cfg = _base()
        data = cfg.model_dump()
        data["name"] = f"no_{branch}"
        data[branch]["enabled"] = False
        return MultibranchConfig.model_validate(data)

    build.__doc__ = f"``base`` with the {branch} branch switched off (ablation)."
    return build


_REGISTRY: dict[str, Callable[[], MultibranchConfig]] = {
    "base": _base,
    "default": _default,
    "design": _design,
    "small": _small,
    "no_timeseries": _without("timeseries"),
    "no_views": _without("views"),
    "no_scalar": _without("scalar"),
}

DEFAULT_CONFIG = "default"


def config_names() -> tuple[str, ...]:
    """Names of the registered configurations."""
    return tuple(_REGISTRY)


def register_config(name: str, builder: Callable[[], MultibranchConfig]) -> None:
    """Add a named builder (an existing name raises ``ValueError``)."""
    if name in _REGISTRY:
        raise ValueError(f"config {name!r} is already registered")
    _REGISTRY[name] = builder


def get_config(name: str = DEFAULT_CONFIG) -> MultibranchConfig:
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
            f"unknown multibranch config {name!r}; choose one of {', '.join(_REGISTRY)}"
        ) from None


def _leaf_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        path = (*prefix, name)
        if isinstance(ann, type) and issubclass(ann, BaseModel) and ann is not Range:
            out.extend(_leaf_paths(ann, path))
        else:
            out.append(path)
    return out


def parameter_names() -> tuple[str, ...]:
    """Every dotted parameter path an override may set."""
    return tuple(".".join(p) for p in _leaf_paths(MultibranchConfig))


def _resolve_key(key: str) -> tuple[str, ...]:
    paths = _leaf_paths(MultibranchConfig)
    parts = tuple(key.split("."))
    if parts in paths:
        return parts
    # a Range parameter may be set as a whole ("...period_days=0.5,20") or by part (".lo")
    if len(parts) > 1 and parts[-1] in ("lo", "hi", "log"):
        try:
            return (*_resolve_key(".".join(parts[:-1])), parts[-1])
        except ConfigError:
            pass
    matches = [p for p in paths if p[-len(parts) :] == parts]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(".".join(m) for m in matches)
        raise ConfigError(f"parameter {key!r} is ambiguous; use one of {names}")
    raise ConfigError(f"unknown parameter {key!r}; known: {', '.join(parameter_names())}")


def apply_overrides(config: MultibranchConfig, overrides: Sequence[str]) -> MultibranchConfig:
    """Apply ``NAME=VALUE`` overrides (dotted paths or unique leaf names).

    A range is set as ``lo,hi`` (``injection.period_days=0.5,20``) or by part
    (``period_days.hi=20``). Unknown names and bad values raise :class:`ConfigError`.
    """
    data = config.model_dump()
    for item in overrides:
        key, value = split_override(item)
        path = _resolve_key(key)
        target = data
        for part in path[:-1]:
            target = target[part]
        leaf = path[-1]
        if isinstance(target.get(leaf), dict) and isinstance(value, list) and len(value) == 2:
            value = {**target[leaf], "lo": value[0], "hi": value[1]}
        target[leaf] = value
    try:
        return MultibranchConfig.model_validate(data)
    except PydanticValidationError as exc:
        raise ConfigError(f"invalid multibranch config: {exc}") from exc
