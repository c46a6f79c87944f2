"""The catalog cross-match: id spellings, period/alias/epoch tolerances, no-match reasons."""

from __future__ import annotations

import pytest

from exoguard.catalogs.crossmatch import (
    CatalogEntry,
    CatalogMatch,
    MatchQuery,
    MatchTolerances,
    host_keys,
    match_candidate,
    object_key,
)

# K00752.01 / .02 as the KOI table gives them (t0 = koi_time0bk + 2454833).
B = CatalogEntry(
    object_id="K00752.01",
    name="Kepler-227 b",
    host_id="KIC 10797460",
    mission="kepler",
    disposition="CONFIRMED",
    source="koi_cumulative_2026-06-22.csv.gz",
    period_days=9.488035570,
    t0_bjd=2454833.0 + 170.53875,
    duration_hours=2.9575,
)
C = CatalogEntry(
    object_id="K00752.02",
    name="Kepler-227 c",
    host_id="KIC 10797460",
    mission="kepler",
    disposition="CONFIRMED",
    source="koi_cumulative_2026-06-22.csv.gz",
    period_days=54.4183827,
    t0_bjd=2454833.0 + 162.51384,
    duration_hours=4.507,
)
TOI = CatalogEntry(
    object_id="TOI-114.01",
    name=None,
    host_id="TIC 25155310",
    mission="tess",
    disposition="CP",
    source="toi_2026-06-22.csv.gz",
    period_days=3.2888,
    t0_bjd=2458325.3,
    duration_hours=2.5,
)
CATALOG = [B, C, TOI]


def _at(entry: CatalogEntry, n_cycles: int, *, shift_durations: float = 0.0) -> float:
    assert entry.t0_bjd is not None and entry.period_days is not None
    assert entry.duration_hours is not None
    return entry.t0_bjd + n_cycles * entry.period_days + shift_durations * entry.duration_hours / 24


@pytest.mark.parametrize(
    ("text", "mission", "expected"),
    [
        ("KIC 10797460", None, ("KIC 10797460",)),
        ("kplr010797460", None, ("KIC 10797460",)),
        ("KIC-010797460", None, ("KIC 10797460",)),
        ("10797460", "kepler", ("KIC 10797460",)),
        ("10797460", None, ("KIC 10797460", "EPIC 10797460", "TIC 10797460")),
        ("TIC 25155310", None, ("TIC 25155310",)),
        ("tic25155310", None, ("TIC 25155310",)),
        ("EPIC 210827030", None, ("EPIC 210827030",)),
        ("ktwo210827030", None, ("EPIC 210827030",)),
        ("K2-18", None, ("K2-18",)),
        ("  ", None, ()),
    ],
)
def test_host_spellings(text: str, mission: str | None, expected: tuple[str, ...]) -> None:
    assert host_keys(text, mission=mission) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K00752.01", "K00752.01"),
        ("KOI-752.01", "K00752.01"),
        ("koi 752.1", "K00752.01"),
        ("K752.01", "K00752.01"),
        ("TOI-114.01", "TOI-114.01"),
        ("toi 114.01", "TOI-114.01"),
        ("Kepler-227 b", "KEPLER-227B"),
        ("kepler-227b", "KEPLER-227B"),
    ],
)
def test_object_spellings(text: str, expected: str) -> None:
    assert object_key(text) == expected


@pytest.mark.parametrize("typed", ["K00752.01", "KOI-752.01", "Kepler-227 b", "kepler-227b"])
def test_identifier_match_comes_first(typed: str) -> None:
    # No host and a period far from the catalog's: the identifier alone decides.
    match = match_candidate(MatchQuery(object_ids=(typed,), period_days=30.0), CATALOG)
    assert match.matched and match.method == "id"
    assert (match.object_id, match.name, match.disposition) == (
        "K00752.01",
        "Kepler-227 b",
        "CONFIRMED",
    )
    assert match.catalog_file == "koi_cumulative_2026-06-22.csv.gz"
    assert match.period_ratio == pytest.approx(30.0 / B.period_days, rel=1e-12)


@pytest.mark.parametrize("host", ["KIC 10797460", "kplr010797460", "10797460"])
def test_host_period_epoch(host: str) -> None:
    query = MatchQuery(
        host_ids=(host,),
        mission="kepler",
        period_days=B.period_days * 1.002,  # 0.2 %: inside the default 1 %
        t0_bjd=_at(B, 30, shift_durations=0.3),
        duration_hours=3.1,
    )
    match = match_candidate(query, CATALOG)
    assert match.matched and match.object_id == "K00752.01"
    assert match.method == "host + period + epoch"
    assert match.period_ratio == pytest.approx(1.002, abs=1e-9)
    assert match.epoch_offset_durations == pytest.approx(0.3, abs=1e-6)
    assert match.summary() == (
        "Catalog match: K00752.01, Kepler-227 b, archive disposition CONFIRMED "
        "(host + period + epoch)"
    )


def test_period_outside_tolerance_is_no_match() -> None:
    query = MatchQuery(
        host_ids=("KIC 10797460",),
        period_days=B.period_days * 1.03,
        t0_bjd=_at(B, 10),
        duration_hours=3.0,
    )
    match = match_candidate(query, CATALOG)
    assert not match.matched
    assert "no catalog period within 1 %" in (match.reason or "")
    assert "K00752.01 9.4880 d" in (match.reason or "")
    # a wider tolerance takes it
    wide = match_candidate(query, CATALOG, tolerances=MatchTolerances(period_rel_tol=0.05))
    assert wide.matched and wide.object_id == "K00752.01"


@pytest.mark.parametrize(
    ("harmonic", "label"), [(2.0, "P×2"), (0.5, "P×1/2"), (3.0, "P×3"), (1 / 3, "P×1/3")]
)
def test_alias_matches(harmonic: float, label: str) -> None:
    assert B.period_days is not None
    query = MatchQuery(
        host_ids=("KIC 10797460",),
        period_days=B.period_days * harmonic,
        t0_bjd=_at(B, 12, shift_durations=-0.2),
        duration_hours=3.0,
    )
    match = match_candidate(query, CATALOG)
    assert match.matched and match.object_id == "K00752.01"
    assert match.method == f"alias {label} (host + period + epoch)"
    assert match.period_ratio == pytest.approx(harmonic, rel=1e-9)
    assert match.epoch_offset_durations == pytest.approx(-0.2, abs=1e-6)


def test_epoch_off_is_no_match_with_near_miss() -> None:
    query = MatchQuery(
        host_ids=("KIC 10797460",),
        period_days=B.period_days,
        t0_bjd=_at(B, 20, shift_durations=2.0),  # two durations away from a catalog transit
        duration_hours=3.0,
    )
    match = match_candidate(query, CATALOG)
    assert not match.matched
    assert "epoch agrees within 0.5 durations" in (match.reason or "")
    assert match.near_misses and match.near_misses[0].startswith("K00752.01")
    # the propagated period error widens the window: 0.01 d per cycle over 20 cycles = 0.2 d
    loose = MatchQuery(**{**query.__dict__, "period_err_days": 0.01})
    assert match_candidate(loose, CATALOG).matched


def test_epoch_tolerance_boundary() -> None:
    inside = MatchQuery(
        host_ids=("KIC 10797460",),
        period_days=B.period_days,
        t0_bjd=_at(B, 5, shift_durations=0.45),
        duration_hours=3.0,
    )
    outside = MatchQuery(**{**inside.__dict__, "t0_bjd": _at(B, 5, shift_durations=0.55)})
    assert match_candidate(inside, CATALOG).matched
    assert not match_candidate(outside, CATALOG).matched


def test_without_epoch_the_method_says_so() -> None:
    query = MatchQuery(host_ids=("KIC 10797460",), period_days=54.5)
    match = match_candidate(query, CATALOG)
    assert match.matched and match.object_id == "K00752.02"
    assert match.method == "host + period" and match.epoch_offset_durations is None


def test_prefers_the_exact_period_over_an_alias() -> None:
    # 54.418 d is also ~ 5.7 x 9.488 d (no harmonic), and TOI periods are on another host.
    query = MatchQuery(
        host_ids=("KIC 10797460",),
        period_days=C.period_days,
        t0_bjd=_at(C, 3),
        duration_hours=4.5,
    )
    assert match_candidate(query, CATALOG).object_id == "K00752.02"


def test_tess_host_and_no_match_reasons() -> None:
    toi = match_candidate(
        MatchQuery(
            host_ids=("TIC 25155310",),
            period_days=3.2890,
            t0_bjd=2458325.3 + 3 * 3.2888,
            duration_hours=2.4,
        ),
        CATALOG,
    )
    assert toi.matched and toi.object_id == "TOI-114.01" and toi.name is None
    assert toi.disposition == "CP"

    nothing = match_candidate(MatchQuery(period_days=5.0), CATALOG)
    assert not nothing.matched
    assert nothing.reason == "no host star identifier and no catalog id given"
    unknown_id = match_candidate(MatchQuery(object_ids=("K99999.01",), period_days=5.0), CATALOG)
    assert unknown_id.reason == (
        "no host star identifier, and no catalog object with the id K99999.01"
    )
    other = match_candidate(MatchQuery(host_ids=("KIC 1",), period_days=5.0), CATALOG)
    assert not other.matched and other.reason == "no catalog object on KIC 1"
    no_period = match_candidate(MatchQuery(host_ids=("KIC 10797460",)), CATALOG)
    assert not no_period.matched
    assert no_period.reason == "2 catalog object(s) on KIC 10797460; no period to tell which"
    assert no_period.summary().startswith("No catalog match: ")


def test_round_trip_through_json() -> None:
    query = MatchQuery(
        host_ids=("KIC 10797460",),
        period_days=B.period_days * 2,
        t0_bjd=_at(B, 4),
        duration_hours=3.0,
    )
    match = match_candidate(query, CATALOG)
    stored = match.to_dict()
    assert stored["summary"] == match.summary()
    assert CatalogMatch.from_dict(stored) == match


def test_tolerances_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="period_rel_tol must be in"):
        MatchTolerances(period_rel_tol=0.0)
    with pytest.raises(ValueError, match="phase_tol_durations must be a positive"):
        MatchTolerances(phase_tol_durations=-1)
    with pytest.raises(ValueError, match="harmonics must include 1"):
        MatchTolerances(harmonics=(2.0,))
