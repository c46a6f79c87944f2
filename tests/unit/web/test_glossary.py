"""Every model feature has plain words (a new feature without an entry fails here)."""

from exoguard.ml.features import ALL_FEATURES
from exoguard.ml.multibranch.inputs import LC_FEATURES
from exoguard.web.glossary import GLOSSARY, describe, explanation_words, summary


def test_every_feature_has_a_glossary_entry() -> None:
    missing = [f for f in (*ALL_FEATURES, *LC_FEATURES) if f not in GLOSSARY]
    assert missing == []
    for term in GLOSSARY.values():
        assert "{v}" in term.template and term.phrase and term.topic


def test_describe_uses_the_value_and_falls_back_to_the_phrase() -> None:
    assert describe("duration_excess", 2.4) == (
        "the transit lasts 2.4× longer than a planet around this star could"
    )
    assert describe("period_days", 9.4880) == "period 9.49 days"
    assert describe("depth_ppm", None) == "transit depth (ppm)"
    assert describe("depth_ppm", float("nan")) == "transit depth (ppm)"


def test_summary_names_topics_for_and_against() -> None:
    items = [
        {"feature": "depth_ppm", "contribution": 0.8},
        {"feature": "duration_excess", "contribution": -1.5},
        {"feature": "log10_depth_ppm", "contribution": 0.3},
        {"feature": "impact", "contribution": 0.5},
    ]
    assert summary(items) == "For a planet: the depth, the transit's shape; against: the duration."
    assert summary([]) == "No feature moved the model either way."


def test_explanation_words_keep_numbers_for_researchers() -> None:
    words = explanation_words(
        {
            "base_value": -1.183,
            "log_odds": -2.024,
            "contributions": [
                {"feature": "duration_excess", "value": 2.4, "contribution": -0.9},
                {"feature": "period_days", "value": 9.488, "contribution": 0.059},
            ],
        }
    )
    assert words is not None
    assert (
        words["direction"] == "The model's evidence moves from its starting point away from planet."
    )
    assert words["summary"] == "For a planet: the period; against: the duration."
    assert (words["base_log_odds"], words["log_odds"]) == (-1.183, -2.024)
    assert [r["words"] for r in words["rows"]] == [
        "the transit lasts 2.4× longer than a planet around this star could",
        "period 9.49 days",
    ]
    assert explanation_words({"contributions": []}) is None


def test_log_features_read_as_plain_values() -> None:
    assert describe("log10_period_days", 0.517) == "period 3.29 days (log scale)"
    assert describe("log10_depth_ppm", 3.784) == "the star dims by 6,081 ppm (log scale)"
    assert describe("star_teff_k", 5800.0) == "a star at 5,800 K"


def test_an_object_within_planet_sizes_reads_as_such() -> None:
    """The size excess is clipped at 0 (a planet-sized object): not "0 Earth radii larger"."""
    assert describe("planet_radius_excess_rearth", 0.0) == "no larger than the largest planets"
    assert describe("planet_radius_excess_rearth", 0) == "no larger than the largest planets"
    assert (
        describe("planet_radius_excess_rearth", 3.2)
        == "3.2 Earth radii larger than the largest planets"
    )


def test_sentences_are_distinct_so_chart_bars_never_merge() -> None:
    sentences = [describe(name, 1.5) for name in GLOSSARY]
    assert len(set(sentences)) == len(sentences)
