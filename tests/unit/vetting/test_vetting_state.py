"""One rule for a candidate's state (issue 15, item 6): consensus first, then the model."""

from __future__ import annotations

import pytest

from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import candidate_state

POLICY = QueuePolicy(uncertainty_threshold=0.15, ambiguous_band=(0.2, 0.8))


def _state(**kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "predicted_label": "false_positive",
        "probability": 0.05,
        "uncertainty": 0.02,
        "vetting_status": None,
        "consensus_label": None,
        "consensus_share": None,
    }
    args.update(kw)
    return candidate_state(policy=POLICY, **args)  # type: ignore[arg-type]


def test_settled_consensus_wins_over_the_model() -> None:
    state = _state(vetting_status="settled", consensus_label="planet", consensus_share=0.834)
    assert (state.key, state.source, state.label) == ("planet", "vetting", "planet")
    assert state.words == "planet by the vetters' consensus (83 % agreement)"
    assert state.headline == "vetted: planet"


def test_open_item_or_no_consensus_leaves_the_model_speaking() -> None:
    assert _state(vetting_status="open").key == "false_positive"
    assert _state(vetting_status="settled", consensus_label=None).source == "model"


@pytest.mark.parametrize(
    ("probability", "uncertainty", "label", "key"),
    [
        (0.05, 0.02, "false_positive", "false_positive"),
        (0.95, 0.02, "planet", "planet"),
        (0.50, 0.02, "planet", "uncertain"),  # ambiguous band
        (0.95, 0.30, "planet", "uncertain"),  # wide spread
        (0.95, 0.02, "candidate", "uncertain"),
    ],
)
def test_model_states(probability: float, uncertainty: float, label: str, key: str) -> None:
    state = _state(predicted_label=label, probability=probability, uncertainty=uncertainty)
    assert state.key == key and state.source == "model"


def test_no_prediction_is_not_classified() -> None:
    state = _state(predicted_label=None, probability=None)
    assert (state.key, state.words, state.label) == ("none", "not classified yet", None)
