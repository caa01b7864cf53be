"""social: the shipped classifiers judge posts; irrelevant ones are flagged."""

from __future__ import annotations

import pytest

from agents.resources import load_models, load_triage
from agents.settings import ROOT
from pipeline.fields import NormalizeConfig
from pipeline.messages import from_social
from pipeline.social import NOT_AN_EMERGENCY, PostTriage, RelevanceRule


@pytest.fixture(scope="module")
def triage() -> PostTriage:
    shipped = load_triage(load_models(ROOT / "models"))
    assert shipped is not None
    return shipped


def post(text: str) -> dict[str, str]:
    return {"post_id": "p-1", "handle": "@someone", "text": text,
            "time": "2016-01-23T12:00:00Z"}


def test_a_report_of_an_emergency_goes_on_with_its_verdict(triage: PostTriage) -> None:
    report = from_social(post("house fire on elm street, smoke everywhere, kids "
                              "inside"), 0, NormalizeConfig.example(), "t:0:1")
    judged = triage.triaged(report)
    verdict = judged.details["relevance"]
    assert verdict["emergency"] is True
    assert NOT_AN_EMERGENCY not in judged.flags
    assert verdict["reasons"][0].startswith("relevance: real emergency (p=")
    assert verdict["info_type"]  # a CrisisLexT26 information type
    assert judged.text == report.text and judged.report_id == report.report_id


def test_slang_that_is_no_emergency_is_flagged_and_says_why(
        triage: PostTriage) -> None:
    report = from_social(post("this new song is fire lol"), 0,
                         NormalizeConfig.example(), "t:0:1")
    judged = triage.triaged(report)
    assert NOT_AN_EMERGENCY in judged.flags
    verdict = judged.details["relevance"]
    assert verdict["emergency"] is False and verdict["p"] < 0.5
    assert any("'lol'" in reason for reason in verdict["reasons"])


def test_other_channels_are_not_judged(triage: PostTriage) -> None:
    from pipeline.messages import from_sms
    sms = from_sms({"message_id": "m1", "sender": "+12155550123",
                    "text": "this new song is fire lol",
                    "time": "2016-01-23T12:00:00Z"}, 0, NormalizeConfig.example(),
                   "t:0:1")
    assert triage.triaged(sms) is sms


def test_a_threshold_in_the_rule_file_overrides_the_classifier_s(
        triage: PostTriage) -> None:
    text = "this new song is fire lol"
    lenient = PostTriage(triage.relevance, triage.info, threshold=0.0)
    assert lenient.judge(text)["emergency"] is True


def test_the_rule_file_refuses_unknown_keys_and_bad_values() -> None:
    assert RelevanceRule.from_config({"enabled": True, "threshold": None}) \
        == RelevanceRule()
    with pytest.raises(ValueError, match="unknown relevance settings"):
        RelevanceRule.from_config({"enable": True})
    with pytest.raises(ValueError, match="threshold"):
        RelevanceRule.from_config({"threshold": 2})
    with pytest.raises(ValueError, match="enabled"):
        RelevanceRule.from_config({"enabled": "yes"})


def test_an_override_leaves_the_shipped_classifier_s_cut_alone(
        triage: PostTriage) -> None:
    before = triage.relevance.threshold
    PostTriage(triage.relevance, triage.info, threshold=0.0)
    assert triage.relevance.threshold == before


def shipped_config() -> NormalizeConfig:
    """The shipped kinds (911 call types); the example config knows a few."""
    return load_models(ROOT / "models").normalize


def test_a_post_naming_a_call_type_and_a_street_is_kept_whatever_the_classifier(
        triage: PostTriage) -> None:
    # Call-type language the disaster-trained classifier scores low.
    text = "cardiac emergency on Bethlehem Pike & Tennis Ave right now"
    report = from_social(post(text), 0, shipped_config(), "t:0:1")
    assert triage.judge(text)["emergency"] is False
    judged = triage.triaged(report)
    assert NOT_AN_EMERGENCY not in judged.flags
    verdict = judged.details["relevance"]
    assert verdict["emergency"] is True
    assert verdict["reasons"][0] == "kept: names a medical_urgent call and a street"
    # The classifier's own reasons stay beside the rule's.
    assert any(r.startswith("relevance: not an emergency") for r in verdict["reasons"])

    strict = PostTriage(triage.relevance, triage.info, kinds=None)
    assert NOT_AN_EMERGENCY in strict.triaged(report).flags


def test_a_typed_post_without_a_street_or_a_street_without_a_type_is_judged(
        triage: PostTriage) -> None:
    for text in ("looks like a cardiac emergency near the school",
                 "traffic is so slow on Main St today lol"):
        report = from_social(post(text), 0, shipped_config(), "t:0:1")
        judged = triage.triaged(report)
        verdict = judged.details["relevance"]
        assert not verdict["reasons"][0].startswith("kept:"), text
        assert (NOT_AN_EMERGENCY in judged.flags) == (not verdict["emergency"])


def test_the_rule_file_refuses_a_keep_rule_that_is_no_boolean() -> None:
    assert RelevanceRule.from_config({"keep_typed_at_street": False}) \
        .keep_typed_at_street is False
    with pytest.raises(ValueError, match="keep_typed_at_street"):
        RelevanceRule.from_config({"keep_typed_at_street": "no"})
