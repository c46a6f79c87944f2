"""Training orchestration, registry, serving (classify) and the CLI dispatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests._registry import sqlite_registry

from exoguard.core.lightcurve import LightCurve
from exoguard.ml.multibranch import hosts as mb_hosts
from exoguard.ml.multibranch.config_registry import apply_overrides, get_config
from exoguard.ml.multibranch.inputs import StarRow
from exoguard.ml.multibranch.train import load_multibranch, prepare_data, train_multibranch

T0 = 2455000.0


def _host(i: int, mission: str) -> mb_hosts.Host:
    rng = np.random.default_rng(i)
    t = T0 + np.arange(0, 15, 0.0204)
    lc = LightCurve.from_arrays(
        t,
        1 + 3e-4 * rng.standard_normal(t.size),
        np.full(t.size, 3e-4),
        mission=mission,
        target_id=f"KIC {i}",
        cadence_s=1765.5,
        sources=(f"h{i}.fits",),
    )
    star = StarRow(teff_k=5600, logg_cgs=4.4, radius_rsun=0.9, mag=13.0)
    return mb_hosts.Host(f"h{i}.fits", lc.target_id, lc, np.ones(lc.n_points), 1.0, star)


def _catalog(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    return pd.DataFrame(
        {
            "object_id": [f"K{i:05d}.01" for i in range(n)],
            "host_id": [f"KIC {1000 + i // 2}" for i in range(n)],
            "mission": ["kepler"] * (n - 20) + ["tess"] * 20,
            "label": np.where(y == 1, "planet", "false_positive"),
            "period_days": rng.uniform(1, 30, n),
            "duration_hours": rng.uniform(1, 6, n),
            "depth_ppm": np.where(y == 1, rng.uniform(100, 2000, n), rng.uniform(5000, 50000, n)),
            "transit_snr": rng.uniform(10, 100, n),
            "star_teff_k": rng.uniform(4500, 6500, n),
            "star_logg_cgs": rng.uniform(4.0, 4.6, n),
            "star_radius_rsun": rng.uniform(0.7, 1.5, n),
        }
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("mb")
    cfg = apply_overrides(
        get_config("small"), ["n_samples=40", "n_test=16", "epochs=2", "max_catalog_rows=80"]
    )
    hosts = [_host(i, "kepler") for i in range(3)] + [_host(9, "tess"), _host(10, "tess")]
    data = prepare_data(cfg, frames=[_catalog()], hosts=hosts, cache_dir=root / "cache")
    registry = sqlite_registry(root / "models")
    model, metrics, record = train_multibranch(cfg, data=data, registry=registry)
    return model, metrics, record, registry, data


def test_version_is_registered_with_config_hash_and_metrics(trained) -> None:
    model, metrics, record, registry, data = trained
    assert record.kind == "multibranch"
    assert record.id == "multibranch-0001"
    assert record.status == "registered"  # never activated implicitly
    assert record.data_hash == data.digest()
    assert record.config["name"] == "small"
    for key in ("injected_test", "catalog", "acceptance", "train_seconds", "n_parameters"):
        assert key in metrics
    inj = metrics["injected_test"]
    for key in (
        "roc_auc",
        "pr_auc",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "brier",
        "ece",
        "confusion_matrix",
        "uncertainty_auc",
        "conformal_coverage_90",
    ):
        assert key in inj
    assert metrics["catalog"]["cross_mission"]["tess"]["n"] == 20
    by_kind = inj["by_kind"]
    assert "planet" in by_kind and len(by_kind) > 2
    for kind, block in by_kind.items():
        if kind != "planet":
            assert 0.0 <= block["roc_auc_vs_planet"] <= 1.0, kind
    directory = Path(record.artifact_path)
    assert {"config.json", "model.json", "member_00.pt", "metrics.json", "manifest.json"} <= {
        p.name for p in directory.iterdir()
    }


def test_loaded_version_predicts_like_the_trained_model(trained) -> None:
    model, _, record, registry, data = trained
    again, rec = load_multibranch(record.id, registry=registry)
    assert rec.id == record.id
    np.testing.assert_allclose(
        again.predict(data.injected.test).probability, model.predict(data.injected.test).probability
    )


def test_prepare_data_keeps_test_stars_out_of_training(trained) -> None:
    *_, data = trained
    train_stars = set(np.unique(data.train.group[data.train.has_lc]))
    assert train_stars.isdisjoint(set(np.unique(data.injected.test.group)))
    kep_test = set(np.unique(data.catalog.kepler_test.group))
    assert kep_test.isdisjoint(set(np.unique(data.train.group)))
    assert kep_test.isdisjoint(set(np.unique(data.val.group)))


def test_classify_a_real_light_curve(trained) -> None:
    from exoguard.config import get_settings
    from exoguard.ml.multibranch.classify import classify_lightcurves

    model, *_ = trained
    path = (
        get_settings().lightcurves_dir
        / "kepler_lightkurve_exports"
        / "kic010848459_lightkurve.fits"
    )
    if not path.exists():
        pytest.skip("shared data not present")
    out = classify_lightcurves([path], model=model, max_planets=1, top=3)
    assert len(out) == 1 and out[0]["target"] == "KIC 10848459"
    cands = out[0]["candidates"]
    assert len(cands) == 1
    c = cands[0]
    assert c["period_days"] == pytest.approx(1.737, rel=2e-3)  # K00754.01
    assert 0.0 <= c["probability"] <= 1.0 and 0.0 <= c["uncertainty"] <= 0.5
    assert c["label"] in ("planet", "false_positive")
    assert len(c["top_features"]) == 3
    # the pages' rule applies: no unflagged verdict inside the ambiguous band or above the
    # uncertainty threshold (a strict rule flags everything)
    from exoguard.ml.flagging import FlagRule

    if 0.2 <= c["probability"] <= 0.8 or c["uncertainty"] > 0.15:
        assert c["uncertain"] is True
    strict = classify_lightcurves(
        [path], model=model, max_planets=1, top=3, flag_rule=FlagRule(ambiguous_band=(0, 1))
    )
    assert strict[0]["candidates"][0]["uncertain"] is True


def test_cli_dispatches_multibranch_training(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from exoguard.cli import app, neural

    calls = []

    def fake_train(**kwargs):
        calls.append(kwargs)
        return {"trained": True, "version": "multibranch-0042"}

    monkeypatch.setattr(neural, "run_train", fake_train)
    result = CliRunner().invoke(
        app,
        ["train", "--model", "multibranch", "--config", "small", "--param", "epochs=1", "--json"],
    )
    assert result.exit_code == 0, result.output
    assert '"multibranch-0042"' in result.stdout
    assert calls == [
        {"config_name": "small", "params": ["epochs=1"], "as_json": True, "real": True}
    ]


def test_prediction_service_serves_a_multibranch_version(trained) -> None:
    import torch

    from exoguard.ml import service
    from exoguard.ml.multibranch.classify import score_catalog_frame

    model, _, record, registry, _ = trained
    service.clear_cache()
    frame = _catalog(40).iloc[:12]
    out = service.predict_frame(frame, version=record.id, registry=registry)
    expected = score_catalog_frame(model, frame)
    np.testing.assert_allclose(out["probability"], expected.probability, atol=1e-9)
    np.testing.assert_allclose(out["uncertainty"], expected.uncertainty, atol=1e-9)
    assert set(out["model_version"]) == {record.id}
    assert list(out.index) == list(frame.index)
    assert set(out["label"]) <= {"planet", "false_positive"}
    # occlusion explanation: base value + contributions close to the network's logit
    contrib = service.explain_frame(frame, version=record.id, registry=registry)
    assert list(contrib.columns) == [*model.feature_names, "base_value"]
    from exoguard.ml.multibranch.arrays import to_batch
    from exoguard.ml.multibranch.catalog_sets import catalog_arrays

    arr = catalog_arrays(
        frame,
        n_bins=model.config.timeseries.n_bins,
        image_shape=(model.config.views.image_transits, model.config.views.image_phase_bins),
        features=model.feature_names,
    )
    net = model.nets[0].eval()
    with torch.no_grad():
        logit = net.head(net.encode(to_batch(arr, model.scaler)))[0].double().numpy()
    np.testing.assert_allclose(contrib.sum(axis=1), logit / model.temperature, atol=1e-6)
    records = service.explain_records(frame.iloc[:2], version=record.id, registry=registry, top=3)
    assert len(records) == 2 and len(records[0]["top"]) == 3
    importance = service.global_importance(record.id, registry=registry)
    assert importance and {"feature", "mean_abs_shap", "mean_shap"} <= set(importance[0])
    with pytest.raises(Exception, match="not a gbm"):
        service.get_model(record.id, registry=registry)


def test_ensemble_is_registered_served_and_only_activated_when_better(trained) -> None:
    from exoguard.catalogs.reader import CatalogTable
    from exoguard.catalogs.schema import HARMONISED_COLUMNS
    from exoguard.config import get_settings
    from exoguard.ml import service
    from exoguard.ml.configs import apply_overrides as gbm_overrides
    from exoguard.ml.configs import get_config as gbm_config
    from exoguard.ml.ensemble import build_and_register
    from exoguard.ml.train import train_gbm

    _, _, record, registry, data = trained
    frame = _catalog(200).reindex(columns=list(HARMONISED_COLUMNS))
    cfg = gbm_overrides(gbm_config("small"), ["n_ensemble=2", "n_estimators=20"])
    gbm = train_gbm(
        cfg,
        catalogs_dir=get_settings().catalogs_dir,
        tables=[CatalogTable(kind="harmonised", source="synthetic", frame=frame)],
        registry=registry,
        activate_if_none=True,
        with_evaluation=False,
    )
    out = build_and_register(record.id, gbm.id, registry=registry, data=data)
    report = out["report"]
    ens_id = out["version"]["id"]
    assert out["version"]["kind"] == "ensemble"
    pooled = report["pooled_heldout"]
    assert {"multibranch", "gbm", "ensemble"} <= set(pooled)
    # activation follows the held-out comparison, nothing else
    active = registry.active()
    assert (active is not None and active.id == ens_id) == report["better"]
    service.clear_cache()
    scores = service.predict_frame(_catalog(40).iloc[:10], version=ens_id, registry=registry)
    assert scores["probability"].between(0, 1).all()
    assert set(scores["model_version"]) == {ens_id}
    # an ensemble is explained by its GBM component's SHAP values
    contrib = service.explain_frame(_catalog(40).iloc[:3], version=ens_id, registry=registry)
    assert "base_value" in contrib.columns and len(contrib) == 3
    # `exoguard classify` with an ensemble: its probability, the network's kept beside it
    from exoguard.core.inject import inject_transit
    from exoguard.core.signal_models import a_rs_from_density
    from exoguard.ml.multibranch.classify import classify_lightcurves

    model = trained[0]
    lc = inject_transit(
        _host(4, "kepler").raw,
        period_days=2.7,
        t0_bjd=T0 + 0.4,
        rp_rs=0.06,
        a_rs=a_rs_from_density(2.7),
        impact=0.1,
    )
    out = classify_lightcurves(
        [lc], model=model, max_planets=1, ensemble_version=ens_id, registry=registry
    )
    (cand,) = out[0]["candidates"]
    assert cand["model_version"] == ens_id and 0 <= cand["probability"] <= 1
    assert 0 <= cand["network_probability"] <= 1
    # the conformal set belongs to the network; the flag follows the ensemble's own verdict
    assert cand["prediction_set_90"] is None and cand["network_prediction_set_90"]
    if 0.2 <= cand["probability"] <= 0.8 or cand["uncertainty"] > 0.15:
        assert cand["uncertain"] is True


def test_search_candidates_are_scored_with_their_light_curve(trained) -> None:
    from exoguard import search_transits
    from exoguard.core.inject import inject_transit
    from exoguard.core.signal_models import a_rs_from_density
    from exoguard.ml import service
    from exoguard.ml.multibranch.classify import candidate_arrays

    model, _, record, registry, _ = trained
    host = _host(3, "kepler")
    lc = inject_transit(
        host.raw,
        period_days=3.1,
        t0_bjd=T0 + 0.7,
        rp_rs=0.05,
        a_rs=a_rs_from_density(3.1),
        impact=0.2,
    )
    found = search_transits(lc, max_planets=1)
    assert len(found) == 1 and found[0].period_days == pytest.approx(3.1, rel=2e-3)
    frame = pd.DataFrame([found[0].to_harmonised()])
    frame["host_id"], frame["mission"] = lc.target_id, "kepler"
    service.clear_cache()
    inputs = service.LightCurveInputs(lc=lc, candidates=found, star={"teff_k": 5600.0})
    with_lc = service.predict_frame(frame, version=record.id, registry=registry, lightcurve=inputs)
    kept, arrays, _, _ = candidate_arrays(
        lc, found, config=model.config, star=StarRow(teff_k=5600.0), features=model.feature_names
    )
    assert kept.tolist() == [True]
    expected = model.predict(arrays).probability
    np.testing.assert_allclose(with_lc["probability"], expected, atol=1e-9)
    # the search's detrending window travels with the light curve (the web path)
    wide = service.predict_frame(
        frame,
        version=record.id,
        registry=registry,
        lightcurve=service.LightCurveInputs(
            lc=lc, candidates=found, star={"teff_k": 5600.0}, window_days=2.5
        ),
    )
    _, arrays_wide, _, _ = candidate_arrays(
        lc,
        found,
        config=model.config,
        star=StarRow(teff_k=5600.0),
        window_days=2.5,
        features=model.feature_names,
    )
    np.testing.assert_allclose(
        wide["probability"], model.predict(arrays_wide).probability, atol=1e-9
    )
    assert not np.array_equal(arrays_wide.local_view, arrays.local_view)
    scalar_only = service.predict_frame(frame, version=record.id, registry=registry)
    # the light-curve branches change the answer (the network saw the light curve)
    assert abs(float(with_lc["probability"].iloc[0] - scalar_only["probability"].iloc[0])) > 1e-6
    with pytest.raises(ValueError, match="2 light-curve candidates for 1 frame rows"):
        service.predict_frame(
            frame,
            version=record.id,
            registry=registry,
            lightcurve=service.LightCurveInputs(lc=lc, candidates=[found[0], found[0]]),
        )
