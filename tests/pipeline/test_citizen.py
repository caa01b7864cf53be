"""Status updates to reporters: templates, which statuses are due, once each."""

from __future__ import annotations

from typing import Any

import pytest

from agents.resources import Models
from pipeline.alert import SentLog
from pipeline.citizen import (
    FIELDS_MAX,
    INACTIVITY,
    MAX_REPORTERS,
    ON_THE_WAY,
    RECEIVED,
    RESOLVED,
    STATUSES,
    SURVEY,
    Answer,
    CitizenTemplates,
    FollowUp,
    Outcome,
    Refused,
    gsm_safe,
)

HOUR_MS = 3_600_000
LONGEST_REF = "I-" + "f" * (FIELDS_MAX["ref"] - 2)


def change(reporter: str = "", channel: str = "sms", units: bool = False,
           last_ms: int = 0, ref: str = "reports.raw.sms:0:1",
           kind: str = "new") -> dict[str, Any]:
    return {"incident_id": "I-1", "change": kind, "reporter": reporter,
            "channel": channel, "raw_ref": ref, "area": "NORRISTOWN",
            "last_ms": last_ms, "units": [{"unit_id": "M-1"}] if units else []}


def config(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "resolve_after_s": 7200, "answer_window_s": 86400,
        "delivery": {"911": "sms", "sms": "sms", "social": "reply", "app": "push"},
        "limits": {"sms": 160, "reply": 280, "push": 178},
        "templates": {s: {"sms": f"{s} {{ref}}", "reply": f"{s} {{ref}}",
                          "push": f"{s} {{ref}}"} for s in STATUSES},
    }
    return {**base, **over}


def test_every_shipped_text_fits_its_delivery_and_sms_stays_gsm(
        models: Models) -> None:
    templates = models.citizen
    assert set(templates.via(c) or "" for c in ("911", "sms", "social", "app")) == {
        "sms", "reply", "push"}
    assert templates.via("sensor") is None
    for (status, via), _ in templates.texts.items():
        text = templates.render(status, via, {"ref": LONGEST_REF})
        assert len(text) <= templates.limits[via]
        assert LONGEST_REF in text
    assert templates.limits["sms"] == 160
    for status in STATUSES:
        sms = templates.render(status, "sms", {"ref": LONGEST_REF})
        assert gsm_safe(sms) == sms


def test_a_template_that_may_outgrow_an_sms_is_refused_at_load() -> None:
    long = config()
    long["templates"]["survey"]["sms"] = "x" * 150 + " {ref}"  # 151 + 18
    with pytest.raises(ValueError, match="survey/sms may take 169 characters"):
        CitizenTemplates.from_config(long)


def test_a_missing_template_or_an_unknown_field_is_refused() -> None:
    missing = config()
    del missing["templates"]["resolved"]["push"]
    with pytest.raises(ValueError, match="resolved/push is missing"):
        CitizenTemplates.from_config(missing)
    unknown = config()
    unknown["templates"]["received"]["reply"] = "hello {name}"
    with pytest.raises(ValueError, match="'name' is not one of"):
        CitizenTemplates.from_config(unknown)


def test_an_sms_template_outside_the_gsm_alphabet_is_refused() -> None:
    curly = config()
    curly["templates"]["received"]["sms"] = "We’ve got it {ref}"
    with pytest.raises(ValueError, match="outside the GSM alphabet"):
        CitizenTemplates.from_config(curly)


def test_each_reporter_gets_each_status_once_in_order() -> None:
    templates = CitizenTemplates.from_config(config())
    follow = FollowUp("I-1").with_change(change("rp:a", "sms"), templates)
    follow, sent = follow.updates(templates, 1)
    assert [u.status for u in sent] == [RECEIVED]

    # A second reporter, on another channel, when units are recommended.
    follow = follow.with_change(change("rp:b", "social", units=True,
                                       ref="reports.raw.social:1:4"), templates)
    follow, sent = follow.updates(templates, 2)
    assert sorted((u.reporter, u.status, u.via) for u in sent) == [
        ("rp:a", ON_THE_WAY, "sms"), ("rp:b", ON_THE_WAY, "reply"),
        ("rp:b", RECEIVED, "reply")]

    # Redelivered changes, and a later one without units, send nothing.
    for again in (change("rp:a", "sms"), change("rp:b", "social", units=True)):
        follow, sent = follow.with_change(again, templates).updates(templates, 3)
        assert sent == []

    follow, sent = follow.resolved("transported", "d-17").updates(templates, 4)
    assert sorted((u.reporter, u.status) for u in sent) == [
        ("rp:a", RESOLVED), ("rp:a", SURVEY), ("rp:b", RESOLVED), ("rp:b", SURVEY)]
    assert {u.disposition for u in sent if u.status == RESOLVED} == {"transported"}
    assert all("transported" not in u.text for u in sent)
    assert follow.resolved("again", "d-18").updates(templates, 5)[1] == []


def test_the_reply_goes_to_the_reporters_first_report() -> None:
    templates = CitizenTemplates.from_config(config())
    follow = FollowUp("I-1").with_change(change("rp:a", ref="t:0:1"), templates)
    follow = follow.with_change(change("rp:a", ref="t:0:9"), templates)
    _, sent = follow.updates(templates, 1)
    assert [(u.update_id, u.reply_to) for u in sent] == [
        ("I-1/rp:a/received", "t:0:1")]


def test_reports_without_a_reporter_or_an_answerable_channel_get_nothing() -> None:
    templates = CitizenTemplates.from_config(config())
    follow = FollowUp("I-1").with_change(change("", "911"), templates)
    follow = follow.with_change(change("rp:s", "sensor"), templates)
    assert follow.reporters == {}
    assert follow.updates(templates, 1)[1] == []


def test_someone_joining_a_resolved_incident_hears_no_help_on_the_way() -> None:
    templates = CitizenTemplates.from_config(config())
    follow = FollowUp("I-1", units=True).resolved("closed", "d-1")
    follow = follow.with_change(change("rp:late", "app", units=True), templates)
    _, sent = follow.updates(templates, 1)
    assert [u.status for u in sent] == [RECEIVED, RESOLVED, SURVEY]


def test_a_quiet_incident_is_closed_for_inactivity_by_event_time() -> None:
    templates = CitizenTemplates.from_config(config())
    quiet = SentLog(keep_ms=int(templates.resolve_after_s * 1000))
    follows = {}
    for incident_id, last_ms in (("I-1", 0), ("I-2", HOUR_MS)):
        follows[incident_id] = FollowUp(incident_id).with_change(
            change("rp:a", last_ms=last_ms), templates)
        quiet.touch(incident_id, last_ms)
    quiet.touch("I-3", 2 * HOUR_MS)
    assert quiet.expired() == []  # I-1 quiet for exactly 2 h: not yet
    quiet.touch("I-3", 2 * HOUR_MS + 1)
    assert quiet.expired() == ["I-1"]

    closed, sent = follows["I-1"].resolved(INACTIVITY, "inactivity").updates(
        templates, 1)
    assert [u.status for u in sent] == [RECEIVED, RESOLVED, SURVEY]
    assert closed.resolution == INACTIVITY


def test_a_follow_up_survives_the_table_round_trip() -> None:
    templates = CitizenTemplates.from_config(config())
    follow, _ = FollowUp("I-1").with_change(change("rp:a"), templates).updates(
        templates, 1)
    back = FollowUp.from_dict(follow.to_dict())
    assert back == follow
    assert back.updates(templates, 2)[1] == []


def test_an_answer_counts_once_and_only_after_a_survey() -> None:
    templates = CitizenTemplates.from_config(config())
    follow, _ = FollowUp("I-1").with_change(change("rp:a"), templates).updates(
        templates, 1)
    with pytest.raises(Refused) as early:
        follow.answered("rp:a")
    assert early.value.reason == "answer_without_survey"

    follow, _ = follow.resolved("done", "d-1").updates(templates, 2)
    follow, first = follow.answered("rp:a")
    assert first
    assert follow.answered("rp:a") == (follow, False)
    with pytest.raises(Refused):
        follow.answered("rp:stranger")


@pytest.mark.parametrize(("record", "detail"), [
    ({"reporter": "rp:a", "score": 3, "at_ms": 1}, "incident_id"),
    ({"incident_id": "I-1", "reporter": "rp:a", "score": 3.0, "at_ms": 1}, "score"),
    ({"incident_id": "I-1", "reporter": "rp:a", "score": True, "at_ms": 1}, "score"),
    ({"incident_id": "I-1", "reporter": "rp:a", "score": 0, "at_ms": 1}, "score"),
    ({"incident_id": "I-1", "score": 3, "at_ms": 1}, "reporter"),
    ({"update_id": "I-1/rp:a/received", "reporter": "rp:a", "score": 3,
      "at_ms": 1}, "survey"),
    ({"update_id": "I-1/rp:b/survey", "reporter": "rp:a", "score": 3,
      "at_ms": 1}, "another reporter"),
    ({"incident_id": "I-1", "reporter": "rp:a", "score": 3}, "at_ms"),
    ({"incident_id": "I-1", "reporter": "rp:a", "score": 3, "at_ms": 1,
      "comment": 5}, "comment"),
])
def test_bad_answers_are_refused_with_a_reason(record: dict[str, Any],
                                               detail: str) -> None:
    with pytest.raises(Refused) as refused:
        Answer.from_dict(record)
    assert refused.value.reason == "bad_answer"
    assert detail in refused.value.detail


def test_an_outcome_keeps_the_general_fields() -> None:
    outcome = Outcome.from_dict({"incident_id": "I-1", "disposition": "false alarm",
                                 "resolved": True, "by": "d-3", "at_ms": 7,
                                 "priority": 4, "kind": "alarm"})
    assert (outcome.priority, outcome.kind, outcome.resolved) == (4, "alarm", True)
    for bad in ({"incident_id": "I-1", "disposition": "x", "resolved": True,
                 "by": "d", "at_ms": 1, "priority": 9}, ["not", "an", "object"]):
        with pytest.raises(Refused, match="bad_outcome"):
            Outcome.from_dict(bad)


def test_a_viral_incident_answers_a_bounded_number_of_reporters() -> None:
    # Thousands of people replying about one incident must not grow its table
    # value past what the broker takes (1 MB); the rest are counted.
    import orjson

    follow = FollowUp("I-1")
    for n in range(MAX_REPORTERS + 300):
        follow = follow.with_change(change(f"rp:{n:05d}", "social",
                                           ref=f"reports.raw.social:0:{n}"))
    follow = follow.with_change(change(f"rp:{1:05d}", "social", kind="repeat"))
    assert len(follow.reporters) == MAX_REPORTERS
    assert follow.unanswered == 300
    assert len(orjson.dumps(follow.to_dict())) < 256 * 1024
    assert FollowUp.from_dict(follow.to_dict()) == follow
