"""One answer to "what is this candidate now?", shared by the pages, the API, the CSV and the PDF.

A settled vetting consensus wins over the model (people looked at it); otherwise the newest
prediction speaks, and a prediction the vetting queue takes (large spread, or a probability in
the ambiguous band) is "uncertain". :func:`candidate_state` is the only place that decides;
:func:`state_for_candidate` reads its inputs from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from exoguard.vetting.queue import QueuePolicy, enters_queue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from exoguard.config import Settings

StateKey = Literal["planet", "false_positive", "uncertain", "none"]
StateSource = Literal["vetting", "model", "none"]

STATE_KEYS: Final[tuple[str, ...]] = ("planet", "false_positive", "uncertain", "none")


@dataclass(frozen=True, slots=True)
class CandidateState:
    """The state of a candidate.

    Attributes
    ----------
    key
        ``planet``, ``false_positive``, ``uncertain`` or ``none`` (not classified yet).
    words
        The state in plain words, e.g. "false positive by the vetters' consensus".
    source
        ``vetting`` (a settled consensus), ``model`` (the newest prediction) or ``none``.
    vetting_status
        ``open``, ``settled`` or None when the candidate was never queued.
    consensus_share
        Weighted agreement of the consensus (source ``vetting`` only).
    """

    key: StateKey
    words: str
    source: StateSource
    vetting_status: str | None = None
    consensus_share: float | None = None

    @property
    def label(self) -> str | None:
        """``planet`` or ``false_positive`` when decided, else None."""
        return self.key if self.key in ("planet", "false_positive") else None

    @property
    def headline(self) -> str:
        """A short form of :attr:`words` for titles ("vetted: false positive", "uncertain")."""
        if self.source == "vetting":
            return f"vetted: {_LABEL_WORDS[self.key]}"
        if self.key == "uncertain":
            return "uncertain"
        return self.words

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "words": self.words,
            "headline": self.headline,
            "source": self.source,
            "vetting_status": self.vetting_status,
            "consensus_share": self.consensus_share,
        }


def state_policy(settings: Settings) -> QueuePolicy:
    """Which predictions count as uncertain: the queue's threshold and ambiguous band."""
    return QueuePolicy.from_settings(
        settings, ambiguous_band=tuple(settings.vetting_ambiguous_band)
    )


_LABEL_WORDS: Final = {"planet": "planet", "false_positive": "false positive"}


def candidate_state(
    *,
    predicted_label: str | None,
    probability: float | None,
    uncertainty: float | None,
    vetting_status: str | None,
    consensus_label: str | None,
    consensus_share: float | None = None,
    policy: QueuePolicy,
) -> CandidateState:
    """The state of a candidate from its newest prediction and its newest vetting item."""
    if vetting_status == "settled" and consensus_label in _LABEL_WORDS:
        share = "" if consensus_share is None else f" ({100 * consensus_share:.0f} % agreement)"
        return CandidateState(
            key="planet" if consensus_label == "planet" else "false_positive",
            words=f"{_LABEL_WORDS[consensus_label]} by the vetters' consensus{share}",
            source="vetting",
            vetting_status=vetting_status,
            consensus_share=consensus_share,
        )
    if predicted_label is None or probability is None:
        return CandidateState(
            key="none", words="not classified yet", source="none", vetting_status=vetting_status
        )
    if predicted_label == "candidate" or enters_queue(
        probability=float(probability), uncertainty=float(uncertainty or 0.0), policy=policy
    ):
        return CandidateState(
            key="uncertain",
            words="uncertain — sent to human vetters",
            source="model",
            vetting_status=vetting_status,
        )
    return CandidateState(
        key="planet" if predicted_label == "planet" else "false_positive",
        words="likely a planet" if predicted_label == "planet" else "likely a false positive",
        source="model",
        vetting_status=vetting_status,
    )


def state_for_candidate(
    session: Session, candidate_id: int, *, policy: QueuePolicy
) -> CandidateState:
    """:func:`candidate_state` of a stored candidate (newest prediction, newest queue item)."""
    from exoguard.store.repositories import PredictionRepository, VettingRepository

    prediction = PredictionRepository(session).latest_for_candidate(candidate_id)
    item = VettingRepository(session).newest_for_candidate(candidate_id)
    return candidate_state(
        predicted_label=prediction.label if prediction else None,
        probability=prediction.probability if prediction else None,
        uncertainty=prediction.uncertainty if prediction else None,
        vetting_status=item.status if item else None,
        consensus_label=item.consensus_label if item else None,
        consensus_share=item.consensus_share if item else None,
        policy=policy,
    )


def verdict_of(
    label: str | None,
    probability: float | None,
    uncertainty: float | None,
    *,
    policy: QueuePolicy,
    vetting_status: str | None = None,
    consensus_label: str | None = None,
    consensus_share: float | None = None,
) -> dict[str, str]:
    """The verdict in plain words: ``key`` (a CSS class), ``words`` and ``source``.

    `exoguard.vetting.state.candidate_state` decides: a settled consensus wins, a prediction
    that the vetting queue takes is "uncertain", otherwise the model's label speaks.
    """
    state = candidate_state(
        predicted_label=label,
        probability=probability,
        uncertainty=uncertainty,
        vetting_status=vetting_status,
        consensus_label=consensus_label,
        consensus_share=consensus_share,
        policy=policy,
    )
    return {"key": state.key, "words": state.words, "source": state.source}


def state_verdict(state: CandidateState) -> dict[str, str]:
    """A `exoguard.vetting.state.CandidateState` as the verdict dict the templates show."""
    return {"key": state.key, "words": state.words, "source": state.source}


__all__ = [
    "STATE_KEYS",
    "CandidateState",
    "candidate_state",
    "state_for_candidate",
    "state_policy",
    "state_verdict",
    "verdict_of",
]
