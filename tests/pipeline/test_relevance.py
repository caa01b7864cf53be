"""The social-post relevance and information-type classifiers."""

from __future__ import annotations

import pytest

from pipeline.relevance import (
    InfoTypeClassifier,
    RelevanceClassifier,
    features,
    tokens,
)

EMERGENCIES = [
    "Forest fire near La Ronge Sask. Canada",
    "Residents asked to shelter in place as the wildfire spreads",
    "Flood waters rising, evacuation ordered for the river district",
    "Earthquake shakes the city, buildings collapsed and people injured",
    "Two people trapped after the house fire on Main St",
    "Tornado warning: take shelter now, damage reported downtown",
]
EVERYDAY = [
    "I love this new song, it is fire lol",
    "Just finished my coffee, what a lovely morning",
    "My phone battery is dead again, so annoying",
    "Watching the game tonight with friends, go team!",
    "This pizza is the bomb, best dinner ever",
    "Can't wait for the weekend, movie night",
]


def taught(rounds: int = 5) -> RelevanceClassifier:
    model = RelevanceClassifier(refit_every=10, min_history=20)
    for _ in range(rounds):
        for yes, no in zip(EMERGENCIES, EVERYDAY, strict=True):
            model.learn_one(yes, True)
            model.learn_one(no, False)
    return model


def test_learns_a_separable_toy_set() -> None:
    model = taught()
    assert model.predict_one("wildfire spreads, evacuation ordered").is_emergency
    assert not model.predict_one("what a lovely movie night with coffee").is_emergency
    assert all(model.predict_one(t).is_emergency for t in EMERGENCIES)
    assert not any(model.predict_one(t).is_emergency for t in EVERYDAY)


def test_reasons_name_the_words() -> None:
    verdict = taught().predict_one("evacuation ordered, wildfire spreads")
    assert verdict.reasons[0].startswith("relevance: real emergency")
    named = " ".join(verdict.reasons[1:])
    assert "'evacuation'" in named or "'wildfire'" in named


def test_keyword_is_a_feature() -> None:
    assert "k:forest fire" in features("smoke everywhere", "forest%20fire")


def test_hashtags_split_and_masks_kept() -> None:
    words = tokens("#FlashFlood near http://url cc @user 2015")
    assert {"#flashflood", "flash", "flood", "xurl", "xuser", "0"} <= set(words)


def test_snapshot_round_trip_predicts_the_same() -> None:
    model = taught()
    copy = RelevanceClassifier.restore(model.snapshot())
    for text in [*EMERGENCIES, *EVERYDAY, "a fire at the pizza place"]:
        assert copy.predict_one(text) == model.predict_one(text)

    # The restored model keeps learning where the original left off.
    copy.learn_one("gas leak, street evacuated", True)
    assert copy.learned == model.learned + 1


@pytest.mark.parametrize("text", ["", "   ", "!!!", "Û_åÊ&amp;", "🔥🔥🔥", "x" * 5000])
def test_empty_or_odd_text_does_not_crash(text: str) -> None:
    fresh = RelevanceClassifier()
    assert fresh.predict_one(text).probability == 0.5
    model = taught(1)
    verdict = model.predict_one(text, keyword="")
    assert 0.0 <= verdict.probability <= 1.0
    model.learn_one(text, False)
    types = InfoTypeClassifier()
    types.predict_one(text)
    types.learn_one(text, "Not applicable")
    assert types.predict_one(text).label is not None


def test_info_type_learns_and_explains() -> None:
    model = InfoTypeClassifier()
    assert model.predict_one("anything").label is None
    examples = {
        "Caution and advice": ["Stay indoors, boil water advisory in effect",
                               "Warning: avoid the bridge, stay indoors"],
        "Donations and volunteering": ["Donate blood at the Red Cross today",
                                       "Volunteers needed, donate food and water"],
        "Infrastructure and utilities": ["Power outage across the east side",
                                         "Bridge closed and power lines down"],
    }
    for _ in range(3):
        for label, texts in examples.items():
            for text in texts:
                model.learn_one(text, label)
    guess = model.predict_one("please donate, volunteers welcome")
    assert guess.label == "Donations and volunteering"
    assert any("'donate'" in r or "'volunteers'" in r for r in guess.reasons)

    copy = InfoTypeClassifier.restore(model.snapshot())
    assert copy.predict_one("power outage downtown") == model.predict_one(
        "power outage downtown")


def test_fixed_threshold_and_bayes_alone_for_unseen_events() -> None:
    model = RelevanceClassifier(linear_weight=0.0, threshold=0.5,
                                skip_unseen=True, refit_every=10, min_history=20)
    for _ in range(5):
        for yes, no in zip(EMERGENCIES, EVERYDAY, strict=True):
            model.learn_one(yes, True)
            model.learn_one(no, False)
    assert model.threshold == 0.5  # never tuned
    assert not model.history
    assert not model.linear.weights  # the regression is skipped
    assert model.predict_one("wildfire spreads, evacuation ordered").is_emergency
    # Words it never saw are no evidence: balanced classes give even odds.
    assert model.predict_one("zzyzx qwerty").probability == pytest.approx(0.5)
    verdict = model.predict_one("evacuation ordered, wildfire spreads")
    assert any("'evacuation'" in r or "'wildfire'" in r for r in verdict.reasons)


def test_unseen_words_lean_to_the_wordier_class_by_default() -> None:
    """river's way: an unseen word counts against the wordier class."""
    model = RelevanceClassifier(linear_weight=0.0, threshold=0.5)
    for _ in range(3):
        model.learn_one("fire trapped evacuation smoke injured people", True)
        model.learn_one("lol", False)
    assert model.predict_one("zzyzx qwerty").probability < 0.5
    skipping = RelevanceClassifier(linear_weight=0.0, threshold=0.5,
                                   skip_unseen=True)
    for _ in range(3):
        skipping.learn_one("fire trapped evacuation smoke injured people", True)
        skipping.learn_one("lol", False)
    assert skipping.predict_one("zzyzx qwerty").probability == pytest.approx(0.5)


def test_linear_weight_is_a_share() -> None:
    with pytest.raises(ValueError, match="linear_weight"):
        RelevanceClassifier(linear_weight=1.5)
