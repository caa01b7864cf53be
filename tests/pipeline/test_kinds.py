"""kinds: type text into the shared incident vocabulary, and which kinds agree."""

from __future__ import annotations

import pytest

from agents.resources import Models
from pipeline.kinds import OTHER, KindTable


@pytest.mark.parametrize(
    ("type_text", "kind"),
    [
        ("VEHICLE ACCIDENT", "collision"),
        ("vehicle accident -", "collision"),
        ("FIRE ALARM", "fire_alarm"),
        ("FIRE", "fire"),
        ("BUILDING FIRE", "structure_fire"),
        ("VEHICLE FIRE", "vehicle_fire"),
        ("FIRE POLICE NEEDED", "service"),
        ("GAS-ODOR/LEAK", "hazmat"),
        ("CARDIAC ARREST", "cardiac_arrest"),
        ("CARDIAC EMERGENCY", "medical_urgent"),
        ("TRAIN CRASH", "mass_casualty"),
        ("DISABLED VEHICLE", "road_hazard"),
        ("BACK PAINS/INJURY", "medical_trauma"),
        ("shots fired near the park", "shooting"),
        ("lost cat", OTHER),
        ("", OTHER),
    ],
)
def test_real_table_classifies_montgomery_titles(
    models: Models, type_text: str, kind: str
) -> None:
    assert models.kinds.classify(type_text) == kind


def test_classification_is_cached_consistently(models: Models) -> None:
    first = models.kinds.classify("Fire alarm, 2nd floor")

    assert models.kinds.classify("FIRE ALARM, 2ND FLOOR") == first == "fire_alarm"


def test_every_kind_names_a_known_capability_and_priority(models: Models) -> None:
    for kind in models.kinds.kinds.values():
        assert 1 <= kind.priority <= 5
        assert kind.needs in {"ems", "fire", "police"}
        assert kind.compatible_with <= set(models.kinds.kinds)


def test_compatibility_is_symmetric_and_reflexive(models: Models) -> None:
    kinds = models.kinds

    assert kinds.compatible("collision", "collision")
    assert kinds.compatible("collision", "vehicle_fire")
    assert kinds.compatible("vehicle_fire", "collision")
    assert not kinds.compatible("collision", "burglary")
    assert not kinds.compatible("made_up", "collision")
    assert kinds.compatible("made_up", "made_up")


def test_unknown_kind_falls_back_to_other(models: Models) -> None:
    assert models.kinds.get("made_up").name == OTHER
    assert models.kinds.get("shooting").priority == 1


def test_equal_length_terms_go_to_the_kind_listed_first() -> None:
    table = KindTable.from_config({"kinds": {
        "first": {"match": ["ABC"], "priority": 2, "needs": "ems"},
        "second": {"match": ["XYZ"], "priority": 3, "needs": "ems"},
        "other": {"match": [], "priority": 4, "needs": "police"},
    }})

    assert table.classify("xyz abc") == "first"


def test_table_without_other_is_refused() -> None:
    with pytest.raises(ValueError, match="other"):
        KindTable.from_config({"kinds": {
            "fire": {"match": ["FIRE"], "priority": 2, "needs": "fire"}}})


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Greer man dies in wreck", "collision"),
        ("two cars collided on the bypass", "collision"),
        ("4 dead, dozens injured in the blast", "medical_trauma"),
        ("house on fire on our street!!", "structure_fire"),
        ("flames coming out of the roof", "fire"),
        ("smoke detector keeps beeping", "fire_alarm"),
        ("police say the gunman opened fire", "shooting"),
        ("I accidentally deleted my playlist", OTHER),
        ("our systems are down again", OTHER),
        ("just had lunch", OTHER),
    ],
)
def test_real_table_reads_free_text(models: Models, text: str, kind: str) -> None:
    """A post has no type field: its words are read whole (a word's start for
    the match terms, "ems" is no kind in "systems")."""
    assert models.kinds.read(text) == kind


def test_reading_free_text_leaves_type_texts_to_classify(models: Models) -> None:
    # "accident" is a word for free text only: the log's titles are matched
    # by their terms, as the generator and every CAD parser use them.
    assert models.kinds.classify("ACCIDENT") == OTHER
    assert models.kinds.read("ACCIDENT") == "collision"


def test_read_all_gives_every_kind_a_text_names(models: Models) -> None:
    text = "4 dead, dozens injured in the blast as two cars collided"
    kinds = models.kinds.read_all(text)
    assert models.kinds.read(text) in kinds
    assert {"medical_trauma", "collision"} <= kinds
    assert models.kinds.read_all("just had lunch") == frozenset()
