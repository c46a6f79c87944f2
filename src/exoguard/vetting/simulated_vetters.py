"""Simulated vetters of known reliability: the kinds, their mix and how they are drawn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exoguard.vetting.simulation_report import VetterKind


@dataclass(frozen=True, slots=True)
class VetterMix:
    """Fractions and accuracies of the three kinds of simulated vetter.

    Fractions are normalised; counts are rounded with the remainder going to ``random``.
    Each vetter's accuracy is drawn uniformly in ``[acc - spread, acc + spread]``.
    """

    good: float = 0.6
    random: float = 0.2
    adversarial: float = 0.2
    good_accuracy: float = 0.9
    random_accuracy: float = 0.5
    adversarial_accuracy: float = 0.2
    spread: float = 0.05

    def __post_init__(self) -> None:
        fractions = (self.good, self.random, self.adversarial)
        if min(fractions) < 0 or sum(fractions) <= 0:
            raise ValueError(f"mix fractions must be >= 0 with a positive sum, got {fractions}")
        for name in ("good_accuracy", "random_accuracy", "adversarial_accuracy"):
            acc = getattr(self, name)
            if not self.spread <= acc <= 1.0 - self.spread:
                raise ValueError(f"{name} must be in [spread, 1 - spread], got {acc!r}")
        if not 0.0 <= self.spread <= 0.5:
            raise ValueError(f"spread must be in [0, 0.5], got {self.spread!r}")

    def counts(self, n_vetters: int) -> dict[VetterKind, int]:
        """Number of vetters of each kind among ``n_vetters``."""
        total = self.good + self.random + self.adversarial
        n_good = round(n_vetters * self.good / total)
        n_adv = min(round(n_vetters * self.adversarial / total), n_vetters - n_good)
        return {"good": n_good, "random": n_vetters - n_good - n_adv, "adversarial": n_adv}


@dataclass(frozen=True, slots=True)
class SimulatedVetter:
    """A vetter who answers correctly with probability ``accuracy`` on every item."""

    user_id: str
    kind: VetterKind
    accuracy: float


def make_vetters(
    n_vetters: int, *, mix: VetterMix, rng: np.random.Generator
) -> list[SimulatedVetter]:
    """Vetters ``v000``, ``v001``, ... with kinds per ``mix`` (in random order)."""
    kinds: list[VetterKind] = []
    for kind, n in mix.counts(n_vetters).items():
        kinds.extend([kind] * n)
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    centre = {
        "good": mix.good_accuracy,
        "random": mix.random_accuracy,
        "adversarial": mix.adversarial_accuracy,
    }
    return [
        SimulatedVetter(
            user_id=f"v{i:03d}",
            kind=kind,
            accuracy=float(centre[kind] + rng.uniform(-mix.spread, mix.spread)),
        )
        for i, kind in enumerate(kinds)
    ]


__all__ = ["SimulatedVetter", "VetterMix", "make_vetters"]
