"""score: base priority from the kind, moved by words in the texts and by reporters."""

from __future__ import annotations

import pytest

from agents.resources import Models
from pipeline.score import PriorityScorer, fold


@pytest.mark.parametrize(
    ("kind", "base"),
    [
        ("shooting", 1),
        ("cardiac_arrest", 1),
        ("collision", 2),
        ("medical_trauma", 3),
        ("fire_alarm", 3),
        ("disturbance", 4),
        ("other", 4),
        ("made_up", 4),
    ],
)
def test_base_priority_from_the_real_table(models: Models, kind: str, base: int
                                           ) -> None:
    priority, reasons = models.scorer.score(kind, ["nothing special"], report_count=1)

    assert priority == base
    assert reasons == (f"kind {kind}: base priority {base}",)


def test_fold_lowers_strips_accents_and_punctuation() -> None:
    assert fold("¡Niño HERIDO, sangre!") == " nino herido sangre "
    assert fold("") == "  "


@pytest.mark.parametrize(
    ("text", "group", "term"),
    [
        ("man with a GUN in the lobby", "weapon", "gun"),
        ("hay un hombre con una pistola", "weapon", "pistola"),
        ("driver is bleeding badly", "injury", "bleeding"),
        ("Está inconsciente", "injury", "inconsciente"),
        ("patient NOT breathing", "breathing", "not breathing"),
        ("mi padre no respira", "breathing", "no respira"),
        ("flames through the roof", "fire", "flames"),
        ("mucho humo en la cocina", "fire", "humo"),
        ("a toddler wandered off", "children", "toddler"),
        ("un niño en la calle", "children", "nino"),
        ("el bebé no se mueve", "children", "bebe"),
        ("Multiple vehicles involved", "multiple", "multiple vehicles"),
    ],
)
def test_lexicon_words_raise_priority(models: Models, text: str, group: str,
                                      term: str) -> None:
    priority, reasons = models.scorer.score("disturbance", [text], report_count=1)

    assert priority == 3
    assert reasons[1] == f"text mentions '{term}' ({group}): -1"


@pytest.mark.parametrize(
    "text",
    [
        "gunther called about a noise",  # 'gun' only as a whole word
        "the shotgun club meets tonight",
        "kidney stones",
        "multiple complaints about vehicles",
    ],
)
def test_partial_words_do_not_count(models: Models, text: str) -> None:
    assert models.scorer.score("disturbance", [text], report_count=1)[0] == 4


def test_each_group_counts_once(models: Models) -> None:
    texts = ["gun! a gun and a knife", "shots fired, pistola, cuchillo"]
    priority, reasons = models.scorer.score("disturbance", texts, report_count=1)

    assert priority == 3
    assert len(reasons) == 2
    assert "(weapon)" in reasons[1]


def test_groups_add_up(models: Models) -> None:
    priority, reasons = models.scorer.score(
        "medical_trauma", ["child is bleeding", "armed man"], report_count=1)

    assert priority == 1
    assert reasons == (
        "kind medical_trauma: base priority 3",
        "text mentions 'armed' (weapon): -1",
        "text mentions 'bleeding' (injury): -1",
        "text mentions 'child' (children): -1",
        "clamped to the scale 1..5",
    )


def test_phrases_do_not_join_across_texts(models: Models) -> None:
    priority = models.scorer.score("disturbance", ["multiple", "vehicles"], 1)[0]

    assert priority == 4


def test_three_reports_shift_priority(models: Models) -> None:
    two = models.scorer.score("medical_trauma", [], report_count=2)
    three = models.scorer.score("medical_trauma", [], report_count=3)

    assert two == (3, ("kind medical_trauma: base priority 3",))
    assert three == (2, ("kind medical_trauma: base priority 3", "3 reports: -1"))


def test_clamped_at_the_most_urgent_with_a_reason(models: Models) -> None:
    priority, reasons = models.scorer.score(
        "shooting", ["shots fired, child bleeding"], report_count=7)

    assert priority == 1
    assert reasons[-1] == "clamped to the scale 1..5"
    assert "7 reports: -1" in reasons


def test_clamped_at_the_least_urgent_with_a_reason(models: Models) -> None:
    scorer = PriorityScorer(models.kinds, {
        "lexicon": {"drill": {"shift": 3, "terms": ["drill", "simulacro"]}},
    })
    priority, reasons = scorer.score("disturbance", ["fire drill"], report_count=9)

    assert priority == 5
    assert reasons == (
        "kind disturbance: base priority 4",
        "text mentions 'drill' (drill): +3",
        "clamped to the scale 1..5",
    )


def test_no_reason_about_clamping_inside_the_scale(models: Models) -> None:
    reasons = models.scorer.score("collision", ["child hurt"], report_count=1)[1]

    assert not any("clamped" in r for r in reasons)


def test_empty_config_keeps_base_priority(models: Models) -> None:
    scorer = PriorityScorer(models.kinds, {})

    assert scorer.score("collision", ["gun", "blood"], report_count=50) == (
        2, ("kind collision: base priority 2",))


@pytest.mark.parametrize("text", ["I can't breathe", "I can\u2019t breathe",
                                  "cant breathe"])
def test_apostrophes_do_not_split_words(models: Models, text: str) -> None:
    priority, reasons = models.scorer.score("other", [text], report_count=1)

    assert priority == 3
    assert any("(breathing)" in reason for reason in reasons)
