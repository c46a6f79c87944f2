"""When a verdict is uncertain: the one rule the vetting queue, the evaluations and the pages use.

A verdict is flagged uncertain — and goes to human vetters instead of standing as a
confident answer — when its uncertainty is above ``uncertainty_threshold`` **or** its
probability lies inside the closed ``ambiguous_band``; either criterion can be switched off
with ``None``. The confident-and-wrong rate of every evaluation is the error rate among the
verdicts this rule does *not* flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from exoguard.config import Settings

#: Uncertainty (a probability standard deviation) above which a verdict is flagged.
DEFAULT_UNCERTAINTY_THRESHOLD: Final = 0.15
#: A calibrated probability between 0.2 and 0.8 means at least a one-in-five chance that the
#: verdict is wrong: not a confident verdict. With this band the confident-and-wrong rate
#: (errors among verdicts not sent to people) is 2.7 % on held-out KOIs and at most 3.7 %
#: on the same rows with fields missing (0.35–0.65 left 4.1 % and up to 12 %);
#: `exoguard evaluate --paths` prints these figures.
DEFAULT_AMBIGUOUS_BAND: Final[tuple[float, float]] = (0.2, 0.8)


@dataclass(frozen=True, slots=True)
class FlagRule:
    """Which verdicts are flagged uncertain (see the module docstring)."""

    uncertainty_threshold: float | None = DEFAULT_UNCERTAINTY_THRESHOLD
    ambiguous_band: tuple[float, float] | None = DEFAULT_AMBIGUOUS_BAND

    def __post_init__(self) -> None:
        if self.uncertainty_threshold is not None and not self.uncertainty_threshold >= 0:
            raise ValueError(
                f"uncertainty_threshold must be >= 0 or None, got {self.uncertainty_threshold!r}"
            )
        if self.ambiguous_band is not None:
            low, high = self.ambiguous_band
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(
                    "ambiguous_band must be (low, high) with 0 <= low <= high <= 1 or None, "
                    f"got {self.ambiguous_band!r}"
                )

    @classmethod
    def from_settings(cls, settings: Settings) -> FlagRule:
        """The rule configured by ``EXOGUARD_VET_UNCERTAINTY`` and
        ``EXOGUARD_VET_AMBIGUOUS_BAND``."""
        band = settings.vetting_ambiguous_band
        return cls(
            uncertainty_threshold=settings.vetting_uncertainty_threshold,
            ambiguous_band=(float(band[0]), float(band[1])) if band else None,
        )

    def flags(self, *, probability: float, uncertainty: float) -> bool:
        """True when one verdict is flagged uncertain."""
        if self.uncertainty_threshold is not None and uncertainty > self.uncertainty_threshold:
            return True
        if self.ambiguous_band is not None:
            low, high = self.ambiguous_band
            return low <= probability <= high
        return False

    def flagged(self, probability: np.ndarray, uncertainty: np.ndarray) -> np.ndarray:
        """:meth:`flags` of many verdicts: probabilities and uncertainties of shape (n,)."""
        p = np.asarray(probability, dtype=float)
        out = np.zeros(len(p), dtype=bool)
        if self.uncertainty_threshold is not None:
            out |= np.asarray(uncertainty, dtype=float) > self.uncertainty_threshold
        if self.ambiguous_band is not None:
            low, high = self.ambiguous_band
            out |= (p >= low) & (p <= high)
        return out


__all__ = ["DEFAULT_AMBIGUOUS_BAND", "DEFAULT_UNCERTAINTY_THRESHOLD", "FlagRule"]
