"""One alert's life after it was sent: updates, collapse, acknowledgement and
escalation. Pure functions of the state and a wall-clock time in ms.

A later change that matters (a more urgent priority, units newly assigned)
becomes an update of the same alert with the next revision, at most one per
``interval_ms``; one that comes sooner is held as *pending* (the newest state
wins) and counted as collapsed, and goes out once the interval has passed. The
same change twice matters once: it is compared with the newest state known.

>>> a = opened("fire", priority=2, units=False, now_ms=0, ack_within_s=60)
>>> a, outcome = observe(a, priority=1, units=False, now_ms=10_000,
...                      interval_ms=30_000)
>>> outcome, a.revision, a.collapsed
('collapsed', 0, 1)
>>> observe(a, priority=1, units=False, now_ms=11_000, interval_ms=30_000)[1]
'none'
>>> a, sent = flush_due(a, now_ms=30_000, interval_ms=30_000)
>>> sent, a.revision, a.priority, a.pending
(True, 1, 1, None)
>>> escalate_due(a, now_ms=59_999)[1], escalate_due(a, now_ms=60_000)[1]
(False, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

NONE, UPDATE, COLLAPSED = "none", "update", "collapsed"
IN_TIME, AFTER_ESCALATION, REPEATED = "in_time", "after_escalation", "repeated"


@dataclass(frozen=True, slots=True)
class AlertState:
    rule_id: str
    #: 0 for the alert as first sent; each update adds one.
    revision: int
    #: Priority and units as the recipients last heard them.
    priority: int
    units: bool
    #: Wall-clock ms of the last send (the alert or its latest update).
    sent_ms: int
    #: Wall-clock ms by which someone must acknowledge (0: no deadline).
    due_ms: int = 0
    escalated: bool = False
    acked_by: str = ""
    acked_ms: int = 0
    #: The newest state not sent yet: {"priority": p, "units": bool}.
    pending: dict[str, Any] | None = None
    collapsed: int = 0

    def to_dict(self) -> dict[str, Any]:
        # One level, by hand: ``dataclasses.asdict`` copies recursively and
        # cost 25 us a state, paid on every alerting change. Only ``pending``
        # holds a container (of plain values); it gets its own copy.
        data = {name: getattr(self, name) for name in _STATE_FIELDS}
        if self.pending is not None:
            data["pending"] = dict(self.pending)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        return cls(**{k: v for k, v in data.items() if k in _STATE_NAMES})

    @property
    def acked(self) -> bool:
        return bool(self.acked_by)

    @property
    def waiting(self) -> bool:
        """Whether a clock can still change it: a deadline or a pending update."""
        return self.pending is not None or (
            self.due_ms > 0 and not self.acked and not self.escalated)

    def what_changed(self, before: AlertState) -> tuple[str, ...]:
        """Why an update was sent, in words a recipient reads."""
        reasons = []
        if self.priority < before.priority:
            reasons.append(f"priority raised {before.priority} -> {self.priority}")
        if self.units and not before.units:
            reasons.append("units assigned")
        return tuple(reasons)


#: AlertState's field names, in order (read once, not on every call).
_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(AlertState))
_STATE_NAMES = frozenset(_STATE_FIELDS)


def opened(rule_id: str, priority: int, units: bool, now_ms: int,
           ack_within_s: float) -> AlertState:
    """The state of an alert just sent."""
    due_ms = now_ms + int(ack_within_s * 1000) if ack_within_s > 0 else 0
    return AlertState(rule_id, 0, priority, units, now_ms, due_ms)


def observe(state: AlertState, priority: int, units: bool, now_ms: int,
            interval_ms: int) -> tuple[AlertState, str]:
    """A later change of the incident: ``update``, ``collapsed`` or ``none``."""
    known_priority = state.priority
    known_units = state.units
    if state.pending is not None:
        known_priority = state.pending["priority"]
        known_units = state.pending["units"]
    if priority >= known_priority and (known_units or not units):
        return state, NONE

    newest = {"priority": min(priority, known_priority),
              "units": known_units or units}
    if now_ms - state.sent_ms >= interval_ms:
        return _sent(state, newest, now_ms), UPDATE
    return dataclasses.replace(state, pending=newest,
                               collapsed=state.collapsed + 1), COLLAPSED


def flush_due(state: AlertState, now_ms: int, interval_ms: int
              ) -> tuple[AlertState, bool]:
    """Send the pending state as an update once the interval has passed."""
    if state.pending is None or now_ms - state.sent_ms < interval_ms:
        return state, False
    return _sent(state, state.pending, now_ms), True


def _sent(state: AlertState, newest: dict[str, Any], now_ms: int) -> AlertState:
    return dataclasses.replace(state, revision=state.revision + 1,
                               priority=newest["priority"], units=newest["units"],
                               sent_ms=now_ms, pending=None)


def moved_away(state: AlertState, now_ms: int) -> AlertState:
    """The alert of an incident left with no report (they moved to another),
    its last update sent: no deadline, nothing pending, nothing to escalate.

    >>> a = opened("life-threat", 1, False, now_ms=0, ack_within_s=60)
    >>> gone = moved_away(a, 5_000)
    >>> gone.revision, gone.waiting, escalate_due(gone, now_ms=90_000)[1]
    (1, False, False)
    """
    return dataclasses.replace(state, revision=state.revision + 1, sent_ms=now_ms,
                               due_ms=0, pending=None)


def acknowledge(state: AlertState, by: str, at_ms: int) -> tuple[AlertState, str]:
    """Record an acknowledgement: ``in_time``, ``after_escalation``, or
    ``repeated`` (the alert was acknowledged already: nothing changes).

    >>> a = opened("fire", 2, False, now_ms=0, ack_within_s=60)
    >>> a, outcome = acknowledge(a, "desk-3", 5_000)
    >>> outcome, a.acked_by, escalate_due(a, now_ms=90_000)[1]
    ('in_time', 'desk-3', False)
    >>> acknowledge(a, "desk-4", 6_000)[1]
    'repeated'
    """
    if state.acked:
        return state, REPEATED
    outcome = AFTER_ESCALATION if state.escalated else IN_TIME
    return dataclasses.replace(state, acked_by=by, acked_ms=at_ms), outcome


def escalate_due(state: AlertState, now_ms: int) -> tuple[AlertState, bool]:
    """Escalate, once, an alert nobody acknowledged by its deadline."""
    if state.due_ms <= 0 or state.acked or state.escalated or now_ms < state.due_ms:
        return state, False
    return dataclasses.replace(state, escalated=True), True
