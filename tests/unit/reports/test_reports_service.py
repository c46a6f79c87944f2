"""Report data from stored rows: diagnostics from columns + search features, bundled files."""

from __future__ import annotations

import pytest

from exoguard.config import get_settings
from exoguard.errors import ValidationError
from exoguard.reports.export import ExportFilters
from exoguard.reports.lightcurve_files import bundled_lightcurve_files
from exoguard.reports.service import _shap, diagnostics_from_candidate
from exoguard.store.models import Candidate

DATA_DIR = get_settings().data_dir


def test_diagnostics_merge_columns_and_search_features() -> None:
    candidate = Candidate(
        mission="tess",
        object_id="TIC 25155310.01",
        label="candidate",
        period_days=3.2888,
        t0_bjd=2458327.52,
        duration_hours=3.4,
        depth_ppm=6900.0,
        transit_snr=None,
        star_radius_rsun=1.24,
        features={  # what TransitCandidate.to_dict() stores (None for NaN)
            "period_days": 3.2887,
            "period_err_days": 0.0004,
            "depth_ppm": 6800.0,
            "depth_err_ppm": 55.0,
            "snr": 120.0,
            "sde": 24.5,
            "n_transits": 8,
            "odd_even_sigma": 0.7,
            "secondary_depth_ppm": 12.0,
            "secondary_sigma": None,
            "secondary_phase": 0.5,
            "shape": "U",
            "ingress_fraction": 0.12,
            "duration_ratio": 1.05,
            "alias_of": "TIC 25155310.02",
            "alias_ratio": "2:1",
            "few_transits": True,
        },
    )
    d = diagnostics_from_candidate(candidate)
    assert d.period_days == 3.2888  # the stored row wins over the raw search value
    assert d.depth_ppm == 6900.0
    assert d.snr == 120.0  # column empty: the search's value
    assert d.depth_err_ppm == 55.0 and d.sde == 24.5 and d.n_transits == 8
    assert d.period_err_days == 0.0004
    assert d.secondary_sigma is None and d.secondary_phase == 0.5
    assert d.shape == "U" and d.ingress_fraction == 0.12 and d.duration_ratio == 1.05
    assert d.star_radius_rsun == 1.24
    assert d.flags == ("alias of TIC 25155310.02 (2:1)", "few transits")
    assert d.has_ephemeris


def test_catalog_row_without_features() -> None:
    d = diagnostics_from_candidate(
        Candidate(mission="kepler", object_id="K00754.01", label="false_positive", period_days=1.7)
    )
    assert d.period_days == 1.7 and d.depth_ppm is None and d.flags == ()
    assert not d.has_ephemeris


def test_shap_formats() -> None:
    items, units = _shap(
        {
            "contributions": [
                {"feature": "depth_ppm", "value": 615.8, "contribution": 0.5},
                {"feature": "bad", "contribution": float("nan")},
                {"feature": "", "contribution": 1.0},
            ],
            "units": "log-odds (positive: towards planet)",
        }
    )
    assert [c.feature for c in items] == ["depth_ppm"] and units == "log-odds"
    items, _ = _shap({"top": [{"feature": "period_days", "contribution": -0.2}]})
    assert items[0].contribution == -0.2 and items[0].value is None
    assert _shap(None) == ([], "log-odds")


@pytest.mark.skipif(
    not (DATA_DIR / "lightcurves" / "index.csv").exists(), reason="bundled data not present"
)
def test_bundled_light_curves_by_host() -> None:
    kepler227 = bundled_lightcurve_files(DATA_DIR, "KIC 10797460")
    assert len(kepler227) == 17 and all(p.suffix == ".fits" for p in kepler227)
    assert kepler227 == sorted(kepler227)
    assert len(bundled_lightcurve_files(DATA_DIR, "tic  25155310")) == 1  # spacing, case
    assert bundled_lightcurve_files(DATA_DIR, "KIC 1") == []
    assert bundled_lightcurve_files(DATA_DIR, None) == []


def test_export_filters_validate() -> None:
    with pytest.raises(ValidationError, match="mission must be one of kepler, k2, tess, other"):
        ExportFilters(mission="mars")
    with pytest.raises(ValidationError, match="label must be one of"):
        ExportFilters(label="maybe")
    with pytest.raises(ValidationError, match="candidate_ids"):
        ExportFilters(candidate_ids=[])
    assert ExportFilters(mission="tess", candidate_ids=[1, 2]).mission == "tess"
