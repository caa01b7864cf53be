"""Status updates to the citizens who reported an incident, and their survey answers.

Each reporter of an incident hears each status once, on the channel they used:
``received`` when their report opens or joins it, ``on_the_way`` once units are
recommended, ``resolved`` when a dispatcher resolves it (or it stays quiet for
``resolve_after_s`` of event time), then a ``survey``. Texts come from one set
of templates per status and delivery (``models/citizen.yaml``), checked against
each delivery's length limit when they are loaded.

>>> desk = CitizenTemplates.from_config({
...     "resolve_after_s": 7200, "answer_window_s": 86400,
...     "delivery": {"sms": "sms"}, "limits": {"sms": 160},
...     "templates": {s: {"sms": s + " {ref}"} for s in STATUSES}})
>>> follow = FollowUp("I-1").with_change({"change": "new", "reporter": "rp:a",
...     "channel": "sms", "raw_ref": "t:0:7", "area": "X", "last_ms": 5, "units": []})
>>> follow, sent = follow.updates(desk, at_ms=9)
>>> [(u.update_id, u.via, u.reply_to, u.text) for u in sent]
[('I-1/rp:a/received', 'sms', 't:0:7', 'received I-1')]
>>> follow.updates(desk, at_ms=10)[1]  # nothing twice
[]
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

RECEIVED, ON_THE_WAY, RESOLVED, SURVEY = "received", "on_the_way", "resolved", "survey"
STATUSES = (RECEIVED, ON_THE_WAY, RESOLVED, SURVEY)
INACTIVITY = "closed for inactivity"
#: The fields a template may name, and the longest value each may take: a
#: template is refused at load time unless it fits its limit with these.
FIELDS_MAX = {"ref": 18}
#: Characters an SMS may carry in the 7-bit GSM alphabet without switching the
#: whole message to UCS-2 (70 characters): printable ASCII minus the ones GSM
#: has only as two-character escapes or not at all.
GSM_UNSAFE = set("[]{}\\^~|`")
MAX_COMMENT_CHARS = 1000
#: Reporters one incident answers. Past it (a viral post, thousands of
#: replies) newcomers are counted, not answered: the incident's table value
#: stays well under a broker's 1 MB message limit.
MAX_REPORTERS = 500


class Refused(ValueError):
    """A message this stage will not act on: a reason code and a detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def gsm_safe(text: str) -> str:
    """``text`` in characters every SMS carries as one: accents dropped, the
    rest replaced by ``?``.

    >>> gsm_safe("Café {x} – ok")
    'Cafe ?x? ? ok'
    """
    folded = unicodedata.normalize("NFKD", text)
    kept = (c for c in folded if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" and c not in GSM_UNSAFE else "?"
                   for c in kept)


def update_id_for(incident_id: str, reporter: str, status: str) -> str:
    """One id per incident, reporter and status: a repeat is recognisable."""
    return f"{incident_id}/{reporter}/{status}"


@dataclass(frozen=True, slots=True)
class CitizenTemplates:
    """Which delivery answers each report channel, and the text of each status."""

    #: report channel (911, sms, social, app, web) -> delivery (sms, reply, push)
    delivery: Mapping[str, str]
    #: delivery -> most characters a message may have
    limits: Mapping[str, int]
    #: (status, delivery) -> template with ``{ref}``
    texts: Mapping[tuple[str, str], str]
    resolve_after_s: float
    #: How long after an incident's last change a survey answer is still taken.
    answer_window_s: float

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CitizenTemplates:
        """Read ``models/citizen.yaml``; raises ``ValueError`` on a template
        that is missing, names an unknown field or may not fit its limit."""
        delivery = {str(k): str(v) for k, v in config["delivery"].items()}
        limits = {str(k): int(v) for k, v in config["limits"].items()}
        texts: dict[tuple[str, str], str] = {}
        for status in STATUSES:
            for via in sorted(set(delivery.values())):
                template = config["templates"][status].get(via)
                if not isinstance(template, str) or not template.strip():
                    raise ValueError(f"citizen template {status}/{via} is missing")
                longest = render_text(template, {k: "x" * n
                                                 for k, n in FIELDS_MAX.items()})
                if len(longest) > limits[via]:
                    raise ValueError(f"citizen template {status}/{via} may take "
                                     f"{len(longest)} characters; {via} allows "
                                     f"{limits[via]}")
                if via == "sms" and gsm_safe(longest) != longest:
                    raise ValueError(f"citizen template {status}/sms has characters "
                                     "outside the GSM alphabet")
                texts[(status, via)] = template
        return cls(delivery, limits, texts, float(config["resolve_after_s"]),
                   float(config["answer_window_s"]))

    def via(self, channel: str) -> str | None:
        """The delivery that answers a report channel; None: nobody to answer."""
        return self.delivery.get(channel)

    def render(self, status: str, via: str, values: Mapping[str, str]) -> str:
        """The text of one update, never longer than the delivery allows.

        A field is cut to its ``FIELDS_MAX`` and an SMS kept in the GSM alphabet.

        >>> t = CitizenTemplates({"sms": "sms"}, {"sms": 40},
        ...     {("received", "sms"): "Got it: {ref}."}, 7200, 86400)
        >>> t.render("received", "sms", {"ref": "I-ünï" + "9" * 30})
        'Got it: I-uni9999999999999.'
        """
        cut = {k: v[:FIELDS_MAX.get(k, 0)] for k, v in values.items()}
        text = render_text(self.texts[(status, via)], cut)
        if via == "sms":
            text = gsm_safe(text)
        return text[:self.limits[via]]


def render_text(template: str, values: Mapping[str, str]) -> str:
    """A template filled in; raises ``ValueError`` for a field it does not know."""
    try:
        return template.format_map(values)
    except (KeyError, IndexError) as exc:
        raise ValueError(f"template field {exc} is not one of "
                         f"{sorted(FIELDS_MAX)}") from exc


@dataclass(frozen=True, slots=True)
class CitizenUpdate:
    """One status update to one reporter (``citizen.updates``)."""

    update_id: str
    incident_id: str
    reporter: str
    #: The channel the reporter used, and how the update reaches them.
    channel: str
    via: str
    #: The raw_ref of the reporter's first report: what the update answers.
    reply_to: str
    status: str
    text: str
    area: str
    at_ms: int
    #: For ``resolved``: the dispatcher's disposition (never in the text).
    disposition: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Reporter:
    """A reporter of an incident: where to answer, and what they were told."""

    channel: str
    reply_to: str
    sent: tuple[str, ...] = ()
    answered: bool = False


@dataclass(frozen=True, slots=True)
class FollowUp:
    """What the citizens of one incident have been told: a table value.

    Only incidents with at least one reporter who can be answered are kept.
    """

    incident_id: str
    area: str = ""
    #: Event time of the incident's last change.
    last_ms: int = 0
    units: bool = False
    #: Empty while open; the disposition once resolved.
    resolution: str = ""
    resolved_by: str = ""
    reporters: Mapping[str, Reporter] = field(default_factory=dict)
    #: Reporters past ``MAX_REPORTERS``, counted and not answered.
    unanswered: int = 0

    def with_change(self, change: Mapping[str, Any],
                    templates: CitizenTemplates | None = None) -> FollowUp:
        """The follow-up after an incident change (a board record).

        A reporter is added with the channel and raw_ref of the first report
        of theirs seen; with ``templates``, only when their channel can be
        answered. A redelivered change adds nothing new.
        """
        reporters = dict(self.reporters)
        reporter = change.get("reporter") or ""
        channel = change.get("channel") or ""
        unanswered = self.unanswered
        if reporter and reporter not in reporters and (
                templates is None or templates.via(channel)):
            if len(reporters) < MAX_REPORTERS:
                reporters[reporter] = Reporter(channel,
                                               str(change.get("raw_ref", "")))
            elif change.get("change") != "repeat":
                unanswered += 1
        return replace(
            self,
            unanswered=unanswered,
            area=str(change.get("area") or self.area),
            last_ms=max(self.last_ms, int(change.get("last_ms") or 0)),
            units=self.units or bool(change.get("units")),
            reporters=reporters,
        )

    def resolved(self, disposition: str, by: str) -> FollowUp:
        """Resolved (the first resolution stays)."""
        if self.resolution:
            return self
        return replace(self, resolution=disposition or "resolved", resolved_by=by)

    def due(self, reporter: Reporter) -> list[str]:
        """The statuses a reporter is owed and has not had, in order.

        Help is no longer "on the way" to someone who joins a resolved incident.
        """
        owed = [RECEIVED]
        if self.units and (not self.resolution or ON_THE_WAY in reporter.sent):
            owed.append(ON_THE_WAY)
        if self.resolution:
            owed += [RESOLVED, SURVEY]
        return [s for s in owed if s not in reporter.sent]

    def updates(self, templates: CitizenTemplates, at_ms: int
                ) -> tuple[FollowUp, list[CitizenUpdate]]:
        """Every update now due, and the follow-up that records them as sent."""
        sent: list[CitizenUpdate] = []
        reporters = dict(self.reporters)
        for token, reporter in self.reporters.items():
            via = templates.via(reporter.channel)
            statuses = self.due(reporter)
            if via is None or not statuses:
                continue
            for status in statuses:
                sent.append(CitizenUpdate(
                    update_id=update_id_for(self.incident_id, token, status),
                    incident_id=self.incident_id, reporter=token,
                    channel=reporter.channel, via=via, reply_to=reporter.reply_to,
                    status=status,
                    text=templates.render(status, via, {"ref": self.incident_id}),
                    area=self.area, at_ms=at_ms,
                    disposition=self.resolution if status == RESOLVED else "",
                ))
            reporters[token] = replace(reporter, sent=reporter.sent + tuple(statuses))
        return replace(self, reporters=reporters), sent

    def answered(self, reporter: str) -> tuple[FollowUp, bool]:
        """Record a reporter's survey answer; False when they had answered.

        Raises ``Refused`` when no survey went to them.
        """
        known = self.reporters.get(reporter)
        if known is None or SURVEY not in known.sent:
            raise Refused("answer_without_survey",
                          f"no survey of {self.incident_id} went to this reporter")
        if known.answered:
            return self, False
        reporters = {**self.reporters, reporter: replace(known, answered=True)}
        return replace(self, reporters=reporters), True

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident_id": self.incident_id, "area": self.area,
            "last_ms": self.last_ms, "units": self.units,
            "resolution": self.resolution, "resolved_by": self.resolved_by,
            "reporters": {k: [r.channel, r.reply_to, list(r.sent), r.answered]
                          for k, r in self.reporters.items()},
            "unanswered": self.unanswered,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FollowUp:
        """Back from ``to_dict`` (a table value after a restart).

        >>> f = FollowUp("I-1", reporters={"rp:a": Reporter("sms", "t:0:1")})
        >>> FollowUp.from_dict(f.to_dict()) == f
        True
        """
        return cls(
            incident_id=str(data["incident_id"]), area=str(data.get("area", "")),
            last_ms=int(data.get("last_ms", 0)), units=bool(data.get("units")),
            resolution=str(data.get("resolution", "")),
            resolved_by=str(data.get("resolved_by", "")),
            reporters={k: Reporter(str(v[0]), str(v[1]), tuple(v[2]), bool(v[3]))
                       for k, v in data.get("reporters", {}).items()},
            unanswered=int(data.get("unanswered", 0)),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a dispatcher decided about an incident (``dispatch.outcomes``).

    General on purpose: the score stage may learn from the same records.

    >>> Outcome.from_dict({"incident_id": "I-1", "disposition": "transported",
    ...     "resolved": True, "by": "d-17", "at_ms": 5}).resolved
    True
    >>> Outcome.from_dict({"incident_id": "I-1", "resolved": "yes"})
    Traceback (most recent call last):
    pipeline.citizen.Refused: bad_outcome: resolved must be true or false
    """

    incident_id: str
    disposition: str
    resolved: bool
    by: str
    at_ms: int
    priority: int | None = None
    kind: str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Outcome:
        if not isinstance(data, dict):
            raise Refused("bad_outcome", "an outcome is a JSON object")
        if not isinstance(data.get("resolved"), bool):
            raise Refused("bad_outcome", "resolved must be true or false")
        priority = data.get("priority")
        if priority is not None and (type(priority) is not int
                                     or not 1 <= priority <= 5):
            raise Refused("bad_outcome", "priority must be an integer 1-5")
        kind = data.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise Refused("bad_outcome", "kind must be a string")
        return cls(
            incident_id=_text(data, "incident_id", "bad_outcome", 100),
            disposition=_text(data, "disposition", "bad_outcome", 200),
            resolved=data["resolved"],
            by=_text(data, "by", "bad_outcome", 100),
            at_ms=_int(data, "at_ms", "bad_outcome"),
            priority=priority, kind=kind,
        )


@dataclass(frozen=True, slots=True)
class Answer:
    """A reporter's answer to a survey (``feedback.answers``).

    >>> a = Answer.from_dict({"update_id": "I-1/rp:a/survey", "reporter": "rp:a",
    ...                       "score": 4, "at_ms": 1})
    >>> a.incident_id, a.score
    ('I-1', 4)
    >>> Answer.from_dict({"incident_id": "I-1", "reporter": "rp:a", "score": 6,
    ...                   "at_ms": 1})
    Traceback (most recent call last):
    pipeline.citizen.Refused: bad_answer: score must be an integer 1-5
    """

    incident_id: str
    reporter: str
    score: int
    at_ms: int
    comment: str = ""

    @classmethod
    def from_dict(cls, data: Any) -> Answer:
        if not isinstance(data, dict):
            raise Refused("bad_answer", "an answer is a JSON object")
        reporter = _text(data, "reporter", "bad_answer", 100)
        update_id = data.get("update_id")
        if update_id is not None:
            parts = update_id.split("/") if isinstance(update_id, str) else []
            if len(parts) != 3 or parts[2] != SURVEY or not parts[0]:
                raise Refused("bad_answer", "update_id is not a survey's id")
            if parts[1] != reporter:
                raise Refused("bad_answer", "update_id names another reporter")
            incident_id = parts[0]
        else:
            incident_id = _text(data, "incident_id", "bad_answer", 100)
        score = data.get("score")
        if type(score) is not int or not 1 <= score <= 5:
            raise Refused("bad_answer", "score must be an integer 1-5")
        comment = data.get("comment") or ""
        if not isinstance(comment, str):
            raise Refused("bad_answer", "comment must be a string")
        return cls(incident_id, reporter, score, _int(data, "at_ms", "bad_answer"),
                   comment[:MAX_COMMENT_CHARS])


def _text(data: dict[str, Any], name: str, reason: str, max_chars: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Refused(reason, f"{name} must be a non-blank string")
    if len(value) > max_chars:
        raise Refused(reason, f"{name} is longer than {max_chars} characters")
    return value


def _int(data: dict[str, Any], name: str, reason: str) -> int:
    value = data.get(name)
    if type(value) is not int:
        raise Refused(reason, f"{name} must be an integer")
    return value
