"""Typed, named configs of the multi-branch model: registry, overrides, JSON round trip."""

from __future__ import annotations

import pytest

from exoguard.errors import ConfigError
from exoguard.ml.multibranch.config_registry import (
    apply_overrides,
    config_names,
    get_config,
    parameter_names,
)
from exoguard.ml.multibranch.configs import BRANCHES, MultibranchConfig, config_hash


def test_registry_has_named_builders() -> None:
    names = config_names()
    for name in ("base", "design", "small", "no_timeseries", "no_views", "no_scalar"):
        assert name in names
        assert get_config(name).name == name


def test_design_config_matches_the_original_design() -> None:
    ts = get_config("design").timeseries
    assert (ts.n_layers, ts.d_model, ts.n_heads, ts.ff_dim) == (4, 128, 8, 512)
    cfg = get_config("design")
    assert cfg.views.image_channels == (32, 64)
    assert (cfg.scalar.hidden, cfg.scalar.dropout, cfg.scalar.out_dim) == (128, 0.3, 64)
    assert cfg.fusion.hidden == 256


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="base"):
        get_config("nope")


@pytest.mark.parametrize("branch", BRANCHES)
def test_ablation_configs_switch_one_branch_off(branch: str) -> None:
    cfg = get_config(f"no_{branch}")
    assert branch not in cfg.enabled_branches
    assert len(cfg.enabled_branches) == 2


def test_overrides_by_dotted_path_leaf_and_range() -> None:
    cfg = apply_overrides(
        get_config("small"),
        [
            "epochs=3",
            "timeseries.enabled=false",
            "injection.period_days=0.7,12",
            "snr.hi=50",
            'mix={"planet": 1, "eb": 1}',
        ],
    )
    assert cfg.training.epochs == 3
    assert not cfg.timeseries.enabled
    assert (cfg.data.injection.period_days.lo, cfg.data.injection.period_days.hi) == (0.7, 12)
    assert cfg.data.injection.snr.hi == 50
    assert cfg.data.injection.mix == {"planet": 1, "eb": 1}


def test_bad_overrides_are_refused_with_the_allowed_values() -> None:
    small = get_config("small")
    with pytest.raises(ConfigError, match="unknown parameter"):
        apply_overrides(small, ["epochz=3"])
    with pytest.raises(ConfigError, match="ambiguous"):
        apply_overrides(small, ["dropout=0.2"])  # several branches have a dropout
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        apply_overrides(small, ["epochs"])
    with pytest.raises(ConfigError, match="invalid"):
        apply_overrides(small, ["epochs=0"])
    with pytest.raises(ConfigError, match="invalid"):
        apply_overrides(small, ['mix={"comet": 1}'])
    with pytest.raises(ConfigError, match="invalid"):
        apply_overrides(
            small, ["timeseries.enabled=false", "views.enabled=false", "scalar.enabled=false"]
        )


def test_shape_constraints_are_checked() -> None:
    with pytest.raises(ConfigError, match="multiple"):
        apply_overrides(get_config("small"), ["timeseries.patch_size=7"])


def test_extra_keys_are_forbidden_and_json_round_trips() -> None:
    cfg = get_config("base")
    again = MultibranchConfig.from_json(cfg.to_json())
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)
    data = cfg.model_dump()
    data["training"]["epochz"] = 3
    with pytest.raises(ConfigError):
        MultibranchConfig.from_json(__import__("json").dumps(data))


def test_parameter_names_are_dotted_paths() -> None:
    names = parameter_names()
    assert "training.epochs" in names
    assert "data.injection.seed" in names
