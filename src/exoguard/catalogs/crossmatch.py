"""Cross-match a candidate (a search find, a table row, a typed-in entry) to catalog objects.

Pure: it knows identifiers and ephemerides, nothing of the database. The store gathers the
catalog objects that may match (same host or same identifier) and this module decides.

Order
-----
1. Identifiers: an object id (``"K00752.01"``, ``"KOI-752.01"``, ``"TOI-114.01"``) or a
   planet name (``"Kepler-227 b"``) that names a catalog object matches it outright.
2. Host, period and epoch: among the catalog objects of the same star (``"KIC 10797460"``,
   ``"kplr010797460"``, a bare ``"10797460"``, ``"TIC 25155310"``, ``"EPIC 210827030"``), one
   whose period agrees within ``period_rel_tol`` (or at a harmonic 1/2, 2, 1/3, 3: an alias
   match) and whose epoch, propagated to the candidate's epoch, falls within
   ``phase_tol_durations`` transit durations (plus the propagated period error).

The archive disposition is carried verbatim for display; it is never a model input.

Example
-------
>>> entry = CatalogEntry(object_id="K00752.01", name="Kepler-227 b", host_id="KIC 10797460",
...                      mission="kepler", disposition="CONFIRMED", source="koi.csv",
...                      period_days=9.488036, t0_bjd=2455003.539, duration_hours=2.9575)
>>> match = match_candidate(MatchQuery(host_ids=("kplr010797460",), period_days=9.4881,
...                                    t0_bjd=2455098.42, duration_hours=3.0), [entry])
>>> match.matched, match.object_id, match.method
(True, 'K00752.01', 'host + period + epoch')
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from exoguard.core.lightcurve import UNKNOWN_TARGET

#: Period ratios (candidate / catalog) reported as an alias match, with their labels.
HARMONICS: Final[tuple[tuple[float, str], ...]] = (
    (1.0, "P×1"),
    (0.5, "P×1/2"),
    (2.0, "P×2"),
    (1.0 / 3.0, "P×1/3"),
    (3.0, "P×3"),
)

_HOST_RE = re.compile(r"^\s*(KIC|KPLR|EPIC|KTWO|TIC)\s*[-_ ]?\s*0*(\d+)\s*$", re.IGNORECASE)
_HOST_PREFIX = {"KIC": "KIC", "KPLR": "KIC", "EPIC": "EPIC", "KTWO": "EPIC", "TIC": "TIC"}
_BARE_NUMBER = re.compile(r"^\s*0*(\d+)\s*$")
_KOI_RE = re.compile(r"^\s*(?:KOI|K)\s*[-_ ]?\s*0*(\d+)\.(\d{1,2})\s*$", re.IGNORECASE)
_TOI_RE = re.compile(r"^\s*TOI\s*[-_ ]?\s*(\d+)\.(\d{1,2})\s*$", re.IGNORECASE)
_PREFIX_BY_MISSION = {"kepler": ("KIC",), "k2": ("EPIC",), "tess": ("TIC",)}


@dataclass(frozen=True)
class MatchTolerances:
    """How close a candidate must be to a catalog object to match it.

    Attributes
    ----------
    period_rel_tol : float
        Largest relative period difference, ``|P / (h P_cat) - 1|``, for harmonic ``h``.
    phase_tol_durations : float
        Largest epoch offset, in transit durations, after propagating the catalog epoch to
        the candidate's epoch (the propagated period error is added to it).
    harmonics : tuple of float
        Period ratios tried (1 first; the others are alias matches).
    """

    period_rel_tol: float = 0.01
    phase_tol_durations: float = 0.5
    harmonics: tuple[float, ...] = tuple(h for h, _ in HARMONICS)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.period_rel_tol) and 0 < self.period_rel_tol < 0.2):
            raise ValueError(f"period_rel_tol must be in (0, 0.2); got {self.period_rel_tol}")
        if not (math.isfinite(self.phase_tol_durations) and self.phase_tol_durations > 0):
            raise ValueError(
                f"phase_tol_durations must be a positive number; got {self.phase_tol_durations}"
            )
        allowed = {h for h, _ in HARMONICS}
        bad = [h for h in self.harmonics if h not in allowed]
        if bad or 1.0 not in self.harmonics:
            raise ValueError(
                f"harmonics must include 1 and be among {sorted(allowed)}; got {self.harmonics}"
            )


@dataclass(frozen=True)
class CatalogEntry:
    """A catalog object as the matcher needs it (times BJD_TDB, durations in hours)."""

    object_id: str
    name: str | None
    host_id: str | None
    mission: str
    disposition: str | None
    source: str | None
    period_days: float | None = None
    t0_bjd: float | None = None
    duration_hours: float | None = None
    period_err_days: float | None = None
    candidate_id: int | None = None


@dataclass(frozen=True)
class MatchQuery:
    """What is known of the candidate to match.

    ``object_ids`` holds identifiers or names the user or the file gave (``"K00752.01"``,
    ``"Kepler-227 b"``); ``host_ids`` the star's identifiers in any spelling; ``mission``
    tells a bare number which catalog to look in (KIC for kepler, EPIC for k2, TIC for tess).
    """

    object_ids: tuple[str, ...] = ()
    host_ids: tuple[str, ...] = ()
    mission: str | None = None
    period_days: float | None = None
    t0_bjd: float | None = None
    duration_hours: float | None = None
    period_err_days: float | None = None


@dataclass(frozen=True)
class CatalogMatch:
    """The outcome: a catalog object (``matched``) or why there is none (``reason``).

    ``method`` says how it matched: ``"id"``, ``"host + period + epoch"``, ``"host + period"``
    (no epoch to check) or ``"alias P×2 (host + period + epoch)"`` and so on, where ``P×2``
    means the candidate's period is twice the catalog's. ``period_ratio`` is candidate over
    catalog period; ``epoch_offset_durations`` the candidate's epoch minus the propagated
    catalog epoch, in transit durations.
    """

    matched: bool
    reason: str | None = None
    object_id: str | None = None
    name: str | None = None
    host_id: str | None = None
    mission: str | None = None
    disposition: str | None = None
    catalog_file: str | None = None
    method: str | None = None
    period_ratio: float | None = None
    epoch_offset_durations: float | None = None
    candidate_id: int | None = None
    near_misses: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (the form stored with a candidate and returned by the API)."""
        out = asdict(self)
        out["near_misses"] = list(self.near_misses)
        out["summary"] = self.summary()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogMatch:
        """The match stored by :meth:`to_dict` (unknown keys ignored)."""
        names = {f for f in cls.__dataclass_fields__ if f != "near_misses"}
        kwargs = {k: data[k] for k in names if k in data}
        return cls(**kwargs, near_misses=tuple(data.get("near_misses") or ()))

    def summary(self) -> str:
        """One sentence, e.g. ``Catalog match: K00752.01, Kepler-227 b, archive disposition
        CONFIRMED (host + period + epoch)``."""
        if not self.matched:
            return f"No catalog match: {self.reason}"
        parts = [p for p in (self.object_id, self.name) if p]
        disposition = self.disposition or "none given"
        return (
            f"Catalog match: {', '.join(parts)}, archive disposition {disposition} ({self.method})"
        )


def no_match(reason: str, *, near_misses: Sequence[str] = ()) -> CatalogMatch:
    """An explicit "no catalog match" with its reason."""
    return CatalogMatch(matched=False, reason=reason, near_misses=tuple(near_misses))


# ------------------------------------------------------------------------------ identifiers
def host_keys(text: str | None, *, mission: str | None = None) -> tuple[str, ...]:
    """Canonical host identifiers a spelling may stand for.

    ``"kplr010797460"``, ``"KIC 10797460"`` → ``("KIC 10797460",)``; ``"ktwo210827030"`` →
    ``("EPIC 210827030",)``; a bare number → the prefix of `mission` (all three without one);
    any other name (``"K2-18"``, ``"Kepler-227"``) → itself, spaces collapsed, upper case.
    The readers' placeholder for a file that names no star (``"unknown"``) stands for none.
    """
    if text is None:
        return ()
    raw = " ".join(str(text).split())
    if not raw or raw.casefold() == UNKNOWN_TARGET.casefold():
        return ()
    found = _HOST_RE.match(raw)
    if found:
        return (f"{_HOST_PREFIX[found.group(1).upper()]} {int(found.group(2))}",)
    bare = _BARE_NUMBER.match(raw)
    if bare:
        prefixes = _PREFIX_BY_MISSION.get((mission or "").lower(), ("KIC", "EPIC", "TIC"))
        return tuple(f"{p} {int(bare.group(1))}" for p in prefixes)
    return (raw.upper(),)


def object_key(text: str | None) -> str | None:
    """Canonical form of an object id or planet name, for comparison.

    ``"KOI-752.01"``, ``"K752.01"`` → ``"K00752.01"``; ``"toi 114.1"`` → ``"TOI-114.01"``;
    a planet name (``"Kepler-227 b"``, ``"kepler-227b"``) → upper case without spaces.
    """
    if text is None:
        return None
    raw = " ".join(str(text).split())
    if not raw:
        return None
    koi = _KOI_RE.match(raw)
    if koi:
        return f"K{int(koi.group(1)):05d}.{int(koi.group(2)):02d}"
    toi = _TOI_RE.match(raw)
    if toi:
        return f"TOI-{int(toi.group(1))}.{int(toi.group(2)):02d}"
    return raw.replace(" ", "").upper()


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


# ------------------------------------------------------------------------------ ephemerides
@dataclass(frozen=True)
class _Fit:
    entry: CatalogEntry
    harmonic: float
    label: str
    period_ratio: float
    offset_durations: float | None
    within_epoch: bool | None  # None: not checked (an epoch or a duration is unknown)


def _ephemeris_fit(query: MatchQuery, entry: CatalogEntry, tol: MatchTolerances) -> _Fit | None:
    """How `query` sits on `entry`'s ephemeris at the closest harmonic in tolerance."""
    if not (_finite(query.period_days) and _finite(entry.period_days)):
        return None
    assert query.period_days is not None and entry.period_days is not None
    ratio = query.period_days / entry.period_days
    labels = dict(HARMONICS)
    best: _Fit | None = None
    for harmonic in tol.harmonics:
        if abs(ratio / harmonic - 1.0) > tol.period_rel_tol:
            continue
        # Events common to both ephemerides repeat at the shorter of the two periods.
        step_days = entry.period_days * min(harmonic, 1.0)
        offset: float | None = None
        within: bool | None = None
        duration = entry.duration_hours if _finite(entry.duration_hours) else query.duration_hours
        if _finite(query.t0_bjd) and _finite(entry.t0_bjd) and _finite(duration):
            assert query.t0_bjd is not None and entry.t0_bjd is not None
            assert duration is not None
            n_cycles = round((query.t0_bjd - entry.t0_bjd) / step_days)
            predicted = entry.t0_bjd + n_cycles * step_days
            duration_days = duration / 24.0
            offset = (query.t0_bjd - predicted) / duration_days
            sigma_days = _period_sigma(entry, query) * abs(n_cycles) * min(harmonic, 1.0)
            allowed = tol.phase_tol_durations + sigma_days / duration_days
            within = abs(offset) <= allowed
        fit = _Fit(entry, harmonic, labels[harmonic], ratio, offset, within)
        if best is None or _rank(fit) < _rank(best):
            best = fit
    return best


def _period_sigma(entry: CatalogEntry, query: MatchQuery) -> float:
    """The period error to propagate: the catalog's when known, else the candidate's, else 0."""
    for value in (entry.period_err_days, query.period_err_days):
        if value is not None and math.isfinite(value) and value > 0:
            return float(value)
    return 0.0


def _rank(fit: _Fit) -> tuple[int, int, float, float]:
    epoch_rank = {True: 0, None: 1, False: 2}[fit.within_epoch]
    offset = abs(fit.offset_durations) if fit.offset_durations is not None else math.inf
    return (epoch_rank, 0 if fit.harmonic == 1.0 else 1, offset, abs(fit.period_ratio - 1))


def _method(fit: _Fit) -> str:
    base = "host + period + epoch" if fit.within_epoch else "host + period"
    return base if fit.harmonic == 1.0 else f"alias {fit.label} ({base})"


def _from_entry(entry: CatalogEntry, **extra: Any) -> CatalogMatch:
    return CatalogMatch(
        matched=True,
        object_id=entry.object_id,
        name=entry.name,
        host_id=entry.host_id,
        mission=entry.mission,
        disposition=entry.disposition,
        catalog_file=entry.source,
        candidate_id=entry.candidate_id,
        **extra,
    )


# ------------------------------------------------------------------------------ matching
def match_candidate(
    query: MatchQuery,
    entries: Iterable[CatalogEntry],
    *,
    tolerances: MatchTolerances | None = None,
) -> CatalogMatch:
    """The catalog object `query` is, or an explicit no-match with the reason.

    Parameters
    ----------
    query : MatchQuery
        Identifiers and ephemeris of the candidate (period in days, epoch BJD_TDB,
        duration in hours).
    entries : iterable of CatalogEntry
        Catalog objects that may match (at least those of the same host and identifiers).
    tolerances : MatchTolerances, optional

    Returns
    -------
    CatalogMatch
    """
    tol = tolerances or MatchTolerances()
    pool = list(entries)
    wanted_ids = {k for k in (object_key(t) for t in query.object_ids) if k}
    if wanted_ids:
        for entry in pool:
            keys = {object_key(entry.object_id), object_key(entry.name)}
            if wanted_ids & keys:
                fit = _ephemeris_fit(query, entry, tol)
                return _from_entry(
                    entry,
                    method="id",
                    period_ratio=fit.period_ratio if fit else _ratio(query, entry),
                    epoch_offset_durations=fit.offset_durations if fit else None,
                )
    hosts = {k for h in query.host_ids for k in host_keys(h, mission=query.mission)}
    if not hosts:
        if not query.object_ids:
            return no_match("no host star identifier and no catalog id given")
        named = ", ".join(sorted(query.object_ids))
        return no_match(f"no host star identifier, and no catalog object with the id {named}")
    shown_host = ", ".join(sorted(hosts))
    on_host = [e for e in pool if hosts & set(host_keys(e.host_id, mission=e.mission))]
    if not on_host:
        return no_match(f"no catalog object on {shown_host}")
    if not _finite(query.period_days):
        return no_match(
            f"{len(on_host)} catalog object(s) on {shown_host}; no period to tell which"
        )
    fits = [f for e in on_host if (f := _ephemeris_fit(query, e, tol)) is not None]
    good = [f for f in fits if f.within_epoch is not False]
    misses = [
        f"{f.entry.object_id}: period ratio {f.period_ratio:.4f} ({f.label}) but epoch off by "
        f"{f.offset_durations:.1f} durations"
        for f in fits
        if f.within_epoch is False and f.offset_durations is not None
    ]
    if not good:
        periods = ", ".join(
            f"{e.object_id} {e.period_days:.4f} d" for e in on_host if _finite(e.period_days)
        )
        if misses:
            return no_match(
                f"on {shown_host} no catalog object's epoch agrees within "
                f"{tol.phase_tol_durations:g} durations",
                near_misses=misses,
            )
        return no_match(
            f"on {shown_host} no catalog period within {100 * tol.period_rel_tol:g} % of "
            f"{query.period_days:.4f} d or its harmonics 1/2, 2, 1/3, 3 (catalog: "
            f"{periods or 'no periods'})"
        )
    best = min(good, key=_rank)
    return _from_entry(
        best.entry,
        method=_method(best),
        period_ratio=best.period_ratio,
        epoch_offset_durations=best.offset_durations,
        near_misses=tuple(misses),
    )


def _ratio(query: MatchQuery, entry: CatalogEntry) -> float | None:
    if _finite(query.period_days) and _finite(entry.period_days) and entry.period_days:
        assert query.period_days is not None and entry.period_days is not None
        return query.period_days / entry.period_days
    return None


__all__ = [
    "HARMONICS",
    "CatalogEntry",
    "CatalogMatch",
    "MatchQuery",
    "MatchTolerances",
    "host_keys",
    "match_candidate",
    "no_match",
    "object_key",
]
