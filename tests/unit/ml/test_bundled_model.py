"""The default model shipped in the repository: intact, built from today's data and config,
and as good on injections into its held-out stars as its stored figures say.

Rebuild it with ``tools/build_default_model.sh`` when this test says the data or the
config changed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from exoguard.config import get_settings
from exoguard.ml.bundled import (
    BUNDLE_DIR,
    injected_set_key,
    install_bundle,
    network_metrics,
    read_bundle,
    verify_files,
)
from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
from exoguard.ml.multibranch.paths import DataPaths
from exoguard.ml.multibranch.predict import MultibranchModel

pytestmark = pytest.mark.skipif(
    not get_settings().lightcurves_dir.is_dir(), reason="bundled light curves not found"
)
#: Held-out injections drawn for the check, and the ROC AUC slack that allows for so few
#: (the standard error of a ROC AUC near 0.95 on 160 rows is about 0.02).
N_CHECK = 160
AUC_SLACK = 0.07


@pytest.fixture(scope="module")
def bundle() -> dict:  # type: ignore[type-arg]
    return read_bundle()


def test_the_bundle_is_intact(bundle: dict) -> None:  # type: ignore[type-arg]
    assert bundle["format"] == "exoguard-bundle-1"
    assert bundle["files"], "bundle.json lists no files"
    assert verify_files() == []
    # nothing pickled: tensors (torch.save of a state dict, read with weights_only) and JSON
    suffixes = {Path(name).suffix for name in bundle["files"]}
    assert suffixes <= {".pt", ".json", ".txt"}, suffixes


def test_the_bundle_matches_todays_config_and_data(bundle: dict) -> None:  # type: ignore[type-arg]
    network = bundle["network"]
    shipped = MultibranchModel.load(BUNDLE_DIR / "network").config
    assert network["config_name"] == "default"
    assert shipped.model_dump(mode="json") == get_config("default").model_dump(mode="json"), (
        "the 'default' network config changed: rebuild with tools/build_default_model.sh"
    )
    assert network["injected_set_key"] == injected_set_key(
        shipped.model_dump(mode="json"), paths=DataPaths.from_settings(get_settings())
    ), "the light curves or the injection code changed: rebuild with tools/build_default_model.sh"
    assert bundle["gbm"]["config_name"] == "default"


def test_the_bundled_network_keeps_its_figures(bundle: dict) -> None:  # type: ignore[type-arg]
    from exoguard.ml.multibranch.catalog_sets import default_catalog_frames
    from exoguard.ml.multibranch.hosts import default_hosts
    from exoguard.ml.multibranch.injected_set import build_injected_set

    model = MultibranchModel.load(BUNDLE_DIR / "network")
    stored = network_metrics()["injected_test"]["roc_auc"]
    # the same host split (the seed is kept): injections into stars the network never saw
    config = apply_overrides(model.config, ["n_samples=10", f"n_test={N_CHECK}"])
    data = build_injected_set(
        config,
        hosts=default_hosts(
            default_catalog_frames(get_settings().catalogs_dir),
            lightcurves_dir=get_settings().lightcurves_dir,
        ),
        use_cache=False,
        features=model.feature_names,
        workers=1,
    )
    test = data.test.subset(data.test.y >= 0)
    pred = model.predict(test)
    auc = roc_auc_score(test.y.astype(int), pred.probability)
    assert auc >= stored - AUC_SLACK, (auc, stored)
    assert np.all((pred.uncertainty >= 0) & np.isfinite(pred.uncertainty))


def test_install_registers_and_activates_the_ensemble_once(tmp_path: Path) -> None:
    from exoguard.catalogs import load_default_catalogs
    from exoguard.ml.configs import apply_overrides as gbm_overrides
    from exoguard.ml.configs import get_config as gbm_config
    from exoguard.ml.train import train_gbm
    from exoguard.store.migrate import upgrade
    from exoguard.store.model_registry import DatabaseVersionStore, open_registry

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade(url)
    registry = open_registry(database_url=url, models_path=tmp_path / "models")
    assert isinstance(registry.store, DatabaseVersionStore)
    with pytest.raises(Exception, match="no GBM of config 'default'"):
        install_bundle(registry=registry)
    cfg = gbm_overrides(gbm_config("default"), ["n_estimators=20", "n_ensemble=2"])
    gbm = train_gbm(
        cfg,
        catalogs_dir=get_settings().catalogs_dir,
        tables=load_default_catalogs(get_settings().catalogs_dir)[:1],
        registry=registry,
        with_evaluation=False,
    )
    first = install_bundle(registry=registry)
    assert first.kind == "ensemble" and first.status == "active"
    assert first.config["gbm_version"] == gbm.id
    registry.activate(gbm.id)  # the user picks another model: a second install keeps it
    again = install_bundle(registry=registry)
    assert again.id == first.id
    assert registry.active().id == gbm.id  # type: ignore[union-attr]
    assert [r.kind for r in registry.list()].count("multibranch") == 1
