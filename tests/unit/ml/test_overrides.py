"""One ``NAME=VALUE`` parser for every model kind (the GBM's used to keep ``a,b`` as strings
while the network's parsed each item: ``0.5,20`` now means two numbers for both)."""

from __future__ import annotations

import pytest

from exoguard.errors import ConfigError
from exoguard.ml import configs as gbm_configs
from exoguard.ml.multibranch import config_registry as mb_configs
from exoguard.ml.overrides import parse_value, split_override


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        (" False ", False),
        ("null", None),
        ("15", 15),
        ("0.05", 0.05),
        ("0.5,20", [0.5, 20]),
        ("a, b,", ["a", "b"]),
        ('{"lo": 1}', {"lo": 1}),
        ("[1, 2]", [1, 2]),
        ("kepler", "kepler"),
    ],
)
def test_values_are_typed_the_same_for_every_kind(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_both_kinds_take_the_same_overrides() -> None:
    gbm = gbm_configs.apply_overrides(
        gbm_configs.get_config("small"),
        ["num_leaves=15", "features=log10_period_days,star_teff_k", "train_missions=kepler,k2"],
    )
    assert gbm.params.num_leaves == 15
    assert tuple(gbm.features) == ("log10_period_days", "star_teff_k")
    assert tuple(gbm.train_missions) == ("kepler", "k2")
    mb = mb_configs.apply_overrides(mb_configs.get_config("small"), ["epochs=3"])
    assert mb.training.epochs == 3
    for apply, config in (
        (gbm_configs.apply_overrides, gbm_configs.get_config("small")),
        (mb_configs.apply_overrides, mb_configs.get_config("small")),
    ):
        with pytest.raises(ConfigError, match="NAME=VALUE"):
            apply(config, ["epochs"])  # type: ignore[operator]
    assert split_override(" seed = 5") == ("seed", 5)
