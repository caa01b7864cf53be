"""Which units to send: the nearest available ones that fill the response plan.

A response plan (``models/response_plans.yaml``) lists, per incident kind and
priority, slots of ``{capability, count}``; a unit fills one slot only, and a
capability may fill another's slots (an advanced EMS unit a basic one's).
Candidates come from the agent (Redis GEO, or its unit table when Redis is
away); this module decides among them, says why each pick was made and, for
each slot left open, why (the shortfall).

>>> from pipeline.schema import UnitStatus
>>> units = [
...     UnitStatus("PTL-1", "available", ("patrol",), 40.0, -75.0, fix_ms=1_000),
...     UnitStatus("ALS-1", "en_route", ("ems_advanced",), 40.0, -75.0, 1_000),
...     UnitStatus("ALS-2", "available", ("ems_advanced",), 40.01, -75.0, 1_000)]
>>> params = RouteParams(plans=ResponsePlans(fills={"ems_advanced": ("ems_basic",)}))
>>> slots = (Slot("ems_basic"), Slot("patrol"))
>>> picks, shortfall = recommend_units(slots, 40.0, -75.0, units, 2_000, params)
>>> [(p.unit_id, p.capability, round(p.distance_m)) for p in picks], shortfall
([('ALS-2', 'ems_basic', 1112), ('PTL-1', 'patrol', 0)], ())
>>> recommend_units((Slot("ladder"),), 40.0, -75.0, units, 2_000, params)[1]
(Shortfall(capability='ladder', missing=1, reasons=('none with capability ladder',)),)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.geo import distance_m
from pipeline.schema import Shortfall, UnitPick, UnitStatus
from pipeline.units import AVAILABLE, STATUSES, unit_problem

__all__ = ["AVAILABLE", "STATUSES", "unit_problem"]  # kept where callers had them

MAX_RANGE_M = 40_000.0
FIX_STALE_AFTER_S = 600.0


@dataclass(frozen=True, slots=True)
class Slot:
    """``count`` units able to act as ``capability``."""

    capability: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class PlanRule:
    """Slots for incidents of priority ``priority_at_most`` or more serious
    (priority 1 is the most serious); None: any priority."""

    priority_at_most: int | None
    slots: tuple[Slot, ...]


def _slots(config: Any, where: str) -> tuple[Slot, ...]:
    if not isinstance(config, list) or not config:
        raise ValueError(f"response_plans.yaml: {where} needs a list of slots")
    slots = []
    for item in config:
        if not isinstance(item, dict) or "capability" not in item:
            raise ValueError(f"response_plans.yaml: {where}: a slot is "
                             "{capability, count}")
        count = item.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"response_plans.yaml: {where}: count {count!r} "
                             "is not a positive whole number")
        slots.append(Slot(str(item["capability"]), count))
    return tuple(slots)


@dataclass(frozen=True, slots=True)
class ResponsePlans:
    """Per kind: rules tried in order, the first matching the priority wins.

    A kind without a plan gets ``by_needs`` of its ``needs`` (incident_types),
    or one unit of that capability.
    """

    plans: Mapping[str, tuple[PlanRule, ...]] = field(default_factory=dict)
    by_needs: Mapping[str, tuple[Slot, ...]] = field(default_factory=dict)
    #: capability -> the other capabilities whose slots its units may fill.
    fills: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ResponsePlans:
        plans = {}
        for kind, rules in (config.get("plans") or {}).items():
            plans[kind] = tuple(
                PlanRule(rule.get("priority_at_most"),
                         _slots(rule.get("slots"), f"plans.{kind}"))
                for rule in rules
            )
        by_needs = {needs: _slots(slots, f"by_needs.{needs}")
                    for needs, slots in (config.get("by_needs") or {}).items()}
        fills = {cap: tuple(str(c) for c in others)
                 for cap, others in (config.get("fills") or {}).items()}
        return cls(plans, by_needs, fills)

    def slots_for(self, kind: str, needs: str, priority: int | None
                  ) -> tuple[Slot, ...]:
        """The slots an incident of ``kind`` at ``priority`` needs filled.

        >>> plans = ResponsePlans(plans={"fire": (
        ...     PlanRule(1, (Slot("fire_engine", 2),)),
        ...     PlanRule(None, (Slot("fire_engine"),)))})
        >>> plans.slots_for("fire", "fire", 1)
        (Slot(capability='fire_engine', count=2),)
        >>> plans.slots_for("fire", "fire", 3)
        (Slot(capability='fire_engine', count=1),)
        >>> plans.slots_for("theft", "police", 3)
        (Slot(capability='police', count=1),)
        """
        for rule in self.plans.get(kind, ()):
            bound = rule.priority_at_most
            if bound is None or (priority is not None and priority <= bound):
                return rule.slots
        return self.by_needs.get(needs) or (Slot(needs),)

    def acts_as(self, capabilities: Iterable[str], slot_capability: str
                ) -> str | None:
        """The capability of a unit that lets it fill a slot: the slot's own
        first, else one whose units may fill it; None when none does."""
        held = tuple(capabilities)
        if slot_capability in held:
            return slot_capability
        for capability in held:
            if slot_capability in self.fills.get(capability, ()):
                return capability
        return None

    def searched_for(self, slot_capability: str) -> tuple[str, ...]:
        """Every capability whose units may fill a slot (the slot's own first)."""
        others = sorted(c for c, filled in self.fills.items()
                        if slot_capability in filled)
        return (slot_capability, *others)


@dataclass(frozen=True, slots=True)
class RouteParams:
    max_range_m: float = MAX_RANGE_M
    fix_stale_after_s: float = FIX_STALE_AFTER_S
    plans: ResponsePlans = field(default_factory=ResponsePlans)

    @classmethod
    def from_config(cls, config: dict[str, Any],
                    plans: dict[str, Any] | None = None) -> RouteParams:
        return cls(
            max_range_m=float(config.get("max_range_m", MAX_RANGE_M)),
            fix_stale_after_s=float(
                config.get("fix_stale_after_s", FIX_STALE_AFTER_S)
            ),
            plans=ResponsePlans.from_config(plans or {}),
        )


@dataclass(slots=True)
class _Tally:
    """What was seen of the units able to fill one slot capability."""

    capable: int = 0
    busy: int = 0
    stale: int = 0
    far: int = 0
    #: Units in range, fresh and available, nearest first: (distance, id).
    eligible: list[tuple[float, str]] = field(default_factory=list)


def _pick_reasons(unit: UnitStatus, slot: str, via: str, dist: float,
                  age_s: float, tally: _Tally) -> tuple[str, ...]:
    reasons = [f"available with {via}: {dist:.0f} m"]
    if via != slot:
        reasons.append(f"{via} fills the {slot} slot")
    reasons.append(f"fix {age_s:.0f} s old")
    rank = tally.eligible.index((dist, unit.unit_id)) + 1
    reasons.append(f"number {rank} by distance of {tally.capable} candidates "
                   f"able to fill {slot}")
    return tuple(reasons)


def _shortfall_reasons(slot: str, tally: _Tally, taken_elsewhere: int,
                       params: RouteParams) -> tuple[str, ...]:
    if tally.capable == 0:
        return (f"none with capability {slot}",)
    reasons = []
    if tally.busy:
        reasons.append(f"{tally.busy} busy")
    if tally.stale:
        reasons.append(f"{tally.stale} with stale fixes")
    if tally.far:
        reasons.append(f"{tally.far} beyond {params.max_range_m / 1000:.0f} km")
    if taken_elsewhere:
        reasons.append(f"{taken_elsewhere} filling other slots")
    return tuple(reasons)


def _match(seats: list[str], candidates: dict[str, list[str]]) -> list[str | None]:
    """Units for seats: as many seats filled as any assignment could fill.

    Each seat first takes its nearest free candidate; a seat left empty then
    looks for an augmenting path (a unit that another seat can give up for
    one of its own other candidates).
    """
    held: list[str | None] = [None] * len(seats)
    seat_of: dict[str, int] = {}
    for index, slot in enumerate(seats):
        for unit_id in candidates[slot]:
            if unit_id not in seat_of:
                held[index], seat_of[unit_id] = unit_id, index
                break

    def augment(index: int, visited: set[str]) -> bool:
        for unit_id in candidates[seats[index]]:
            if unit_id in visited:
                continue
            visited.add(unit_id)
            other = seat_of.get(unit_id)
            if other is None or augment(other, visited):
                held[index], seat_of[unit_id] = unit_id, index
                return True
        return False

    for index in range(len(seats)):
        if held[index] is None:
            augment(index, set())
    return held


def recommend_units(slots: tuple[Slot, ...], lat: float | None, lon: float | None,
                    units: Iterable[UnitStatus], now_ms: int, params: RouteParams
                    ) -> tuple[tuple[UnitPick, ...], tuple[Shortfall, ...]]:
    """Units for an incident at (lat, lon): picks in slot order, and the shortfall.

    Distances are compared to the decimetre (as reported); equal ones go to
    the smaller unit id, so the choice does not depend on the order of
    ``units``. A unit id seen twice counts once (its first status).
    """
    if lat is None or lon is None:
        return (), tuple(Shortfall(s.capability, s.count,
                                   ("incident location unknown",)) for s in slots)

    # 1. Each unit once: what it could fill, and whether it can go now.
    plans = params.plans
    wanted = list(dict.fromkeys(s.capability for s in slots))
    tallies = {capability: _Tally() for capability in wanted}
    found: dict[str, tuple[UnitStatus, float, float]] = {}
    # Units of a fleet share a few sets of capabilities: each set is read once.
    fills_of: dict[tuple[str, ...], list[str]] = {}
    for unit in units:
        if unit.unit_id in found:
            continue
        fills = fills_of.get(unit.capabilities)
        if fills is None:
            fills = fills_of[unit.capabilities] = [
                c for c in wanted if plans.acts_as(unit.capabilities, c)]
        if not fills:
            continue
        age_s = (now_ms - unit.fix_ms) / 1000
        dist = round(distance_m(lat, lon, unit.lat, unit.lon), 1)
        found[unit.unit_id] = (unit, dist, max(0.0, age_s))
        for capability in fills:
            tally = tallies[capability]
            tally.capable += 1
            if unit.status != AVAILABLE:
                tally.busy += 1
            elif age_s > params.fix_stale_after_s:
                tally.stale += 1
            elif dist > params.max_range_m:
                tally.far += 1
            else:
                tally.eligible.append((dist, unit.unit_id))

    # 2. Nearest first; a seat needs no more candidates than there are seats.
    seats = [s.capability for s in slots for _ in range(s.count)]
    candidates = {}
    for capability, tally in tallies.items():
        tally.eligible.sort()
        candidates[capability] = [i for _, i in tally.eligible[:len(seats)]]
    held = _match(seats, candidates)

    # 3. Picks in seat order; each open seat counted against its capability.
    picks = []
    missing: Counter[str] = Counter()
    for capability, unit_id in zip(seats, held, strict=True):
        if unit_id is None:
            missing[capability] += 1
            continue
        unit, dist, age_s = found[unit_id]
        via = plans.acts_as(unit.capabilities, capability) or capability
        picks.append(UnitPick(unit_id, dist,
                              _pick_reasons(unit, capability, via, dist, age_s,
                                            tallies[capability]),
                              capability=capability, fix_age_s=round(age_s, 1)))
    chosen = {p.unit_id for p in picks}
    shortfall = []
    for capability in wanted:
        if not missing[capability]:
            continue
        tally = tallies[capability]
        own = sum(1 for p in picks if p.capability == capability)
        elsewhere = sum(1 for _, i in tally.eligible if i in chosen) - own
        shortfall.append(Shortfall(capability, missing[capability],
                                   _shortfall_reasons(capability, tally, elsewhere,
                                                      params)))
    return tuple(picks), tuple(shortfall)


class UnitPool:
    """Units grouped by capability, so a search reads only those that could fill.

    >>> pool = UnitPool([UnitStatus("K9-1", "available", ("k9", "patrol"), 40.0,
    ...                             -75.0, 0)], ResponsePlans())
    >>> [u.unit_id for u in pool.able_to_fill((Slot("patrol"), Slot("k9")))]
    ['K9-1']
    """

    def __init__(self, units: Iterable[UnitStatus], plans: ResponsePlans):
        self.plans = plans
        self.by_capability: dict[str, list[UnitStatus]] = {}
        for unit in units:
            for capability in unit.capabilities:
                self.by_capability.setdefault(capability, []).append(unit)

    def able_to_fill(self, slots: tuple[Slot, ...]) -> list[UnitStatus]:
        seen: dict[str, UnitStatus] = {}
        for slot in slots:
            for capability in self.plans.searched_for(slot.capability):
                for unit in self.by_capability.get(capability, ()):
                    seen.setdefault(unit.unit_id, unit)
        return list(seen.values())
