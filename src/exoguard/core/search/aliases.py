"""Period aliases among the candidates of one star.

Every candidate whose period is a small-integer ratio of a stronger one's (and whose transits
line up with it) is flagged ``alias_of`` that one; the same period at another phase (typically a
secondary eclipse) is flagged ``1:1``.
"""

from __future__ import annotations

from fractions import Fraction

from exoguard.core.search.results import TransitCandidate

__all__ = ["ALIAS_RATIOS", "flag_aliases"]

#: Period ratios tested for aliases (this candidate : stronger one).
ALIAS_RATIOS: tuple[Fraction, ...] = (
    Fraction(1),
    *(Fraction(n) for n in range(2, 6)),
    *(Fraction(1, n) for n in range(2, 6)),
    Fraction(3, 2),
    Fraction(2, 3),
)


def _alias_ratio(
    cand: TransitCandidate, stronger: TransitCandidate, *, rel_tol: float
) -> Fraction | None:
    ratio = cand.period_days / stronger.period_days
    for frac in ALIAS_RATIOS:
        if abs(ratio - float(frac)) > rel_tol * float(frac):
            continue
        if frac == 1:
            return frac
        # Transits line up when the epochs differ by a multiple of P_stronger / denominator.
        step = stronger.period_days / frac.denominator
        offset = (cand.t0_bjd - stronger.t0_bjd) / step
        miss_days = abs(offset - round(offset)) * step
        tolerance = max(cand.duration_hours, stronger.duration_hours) / 24.0
        if miss_days <= tolerance:
            return frac
    return None


def flag_aliases(
    candidates: list[TransitCandidate], *, rel_tol: float = 2e-3
) -> list[TransitCandidate]:
    """Flag each candidate that is a period alias of an earlier (stronger) one.

    Parameters
    ----------
    candidates : list of TransitCandidate
        In the order found.
    rel_tol : float
        Relative tolerance on the period ratio.

    Returns
    -------
    list of TransitCandidate
        New objects, ``alias_of`` / ``alias_ratio`` set where an alias was recognised.
    """
    out: list[TransitCandidate] = []
    for cand in candidates:
        flagged = cand.with_alias(None, None)
        for stronger in out:
            frac = _alias_ratio(cand, stronger, rel_tol=rel_tol)
            if frac is not None:
                flagged = cand.with_alias(
                    stronger.alias_of or stronger.object_id,
                    f"{frac.numerator}:{frac.denominator}",
                )
                break
        out.append(flagged)
    return out
