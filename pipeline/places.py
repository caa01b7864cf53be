"""Where a report without a fix may be: the streets it names and the place it gives.

A 911 call with no fix still says where ("car on its roof at Haws Ave and
Main"), a text asks for help "on reindeer ct", a post gives only the town it
was sent from. Matching such a report needs what these words give:

- ``street_names``: the street names in an address or a free text, as
  "<name> <suffix>" with the suffix in its short form ("haws ave", "reindeer
  ct"). Two reports naming one street near one time are a place match; words
  like "caller" or "accident" that every report shares are not.
- ``Gazetteer``: a service area's place names (towns, townships, boroughs) with
  a centre and a radius, from ``models/places.yaml``. A post from "Lower
  Merion, PA" is somewhere in that circle: enough to tell it apart from an
  incident in the next county, not to route a unit.

>>> sorted(street_names("car on its roof at Haws Avenue & Main St, hurry"))
['haws ave', 'main st']
>>> sorted(street_names("REINDEER CT & DEAD END"))
['reindeer ct']
>>> street_names("caller reports vehicle accident, caller on scene")
frozenset()
>>> sorted(street_names("HAZARDOUS ROAD CONDITIONS at Church Rd"))
['church rd']
>>> sorted(street_names("by the pizza place on Haws Place, caller reports road"))
['haws pl']
>>> g = Gazetteer({"t": {"lower merion": (40.01, -75.27, 4000.0)}})
>>> g.find("t", "Lower Merion, PA")
(40.01, -75.27, 4000.0)
>>> g.find("t", "LOWER MERION TOWNSHIP") is None, g.find("x", "Lower Merion")
(False, None)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: Street suffixes (USPS Publication 28 forms and common spellings) -> one form.
SUFFIXES = {
    "st": "st", "street": "st", "rd": "rd", "road": "rd", "ave": "ave",
    "av": "ave", "avenue": "ave", "ln": "ln", "lane": "ln", "ct": "ct",
    "court": "ct", "dr": "dr", "drive": "dr", "pike": "pike", "blvd": "blvd",
    "boulevard": "blvd", "way": "way", "pl": "pl", "place": "pl", "cir": "cir",
    "circle": "cir", "hwy": "hwy", "highway": "hwy", "ter": "ter",
    "terrace": "ter", "trl": "trl", "trail": "trl", "pkwy": "pkwy",
    "parkway": "pkwy", "sq": "sq", "square": "sq", "tpke": "tpke",
    "turnpike": "tpke", "expy": "expy", "expressway": "expy", "path": "path",
    "aly": "aly", "alley": "aly", "row": "row", "walk": "walk",
}
#: Words before a suffix that are not a street's name ("at the st", "on rd").
NOT_A_NAME = frozenset({
    "a", "an", "the", "at", "on", "in", "near", "of", "and", "to", "by", "my",
    "our", "this", "that",
})
#: Suffixes spelt out that are also common nouns: after "the <word>" they
#: are a description ("by the pizza place", "the food court"), not a street.
COMMON_NOUNS = frozenset({
    "place", "court", "circle", "square", "way", "lane", "drive", "path",
    "walk", "row", "trail", "alley", "terrace",
})
#: Words of a call-taker's or witness's sentence, never a street's name
#: ("caller reports road obstruction").
NOT_A_STREET = frozenset({"reports", "reported", "caller", "passer", "by"})
#: Words after a suffix that make it a common noun, not a street's
#: ("hazardous road conditions", "road rage", "a street fight").
NOT_AFTER_SUFFIX = frozenset({
    "conditions", "rage", "hazard", "hazards", "debris", "fight", "fights",
    "patrol", "safety", "kill", "trip",
})
_WORD = re.compile(r"[a-z0-9']+")
#: Words that end a place name given as "Town, PA" or "Town Township".
_PLACE_TAIL = re.compile(
    r"(,.*$)|\b(township|twp|borough|boro|city|town|village)\b", re.IGNORECASE)


@lru_cache(maxsize=65_536)
def street_names(text: str) -> frozenset[str]:
    """The "<name> <suffix>" street names a text mentions, lower case (cached:
    a CAD log names the same addresses again and again)."""
    words = _WORD.findall(text.lower())
    found = set()
    for index in range(1, len(words)):
        suffix = SUFFIXES.get(words[index])
        name = words[index - 1]
        if not suffix or name in NOT_A_NAME or name in SUFFIXES or \
                name in NOT_A_STREET:
            continue
        if words[index] in COMMON_NOUNS and index > 1 and \
                words[index - 2] in ("the", "a"):
            continue
        if index + 1 < len(words) and words[index + 1] in NOT_AFTER_SUFFIX:
            continue
        found.add(f"{name} {suffix}")
    return frozenset(found)


def place_name(text: str) -> str:
    """A place name reduced to its core: "Lower Merion Township, PA" -> "lower
    merion"."""
    return " ".join(_WORD.findall(_PLACE_TAIL.sub(" ", text).lower()))


@dataclass(frozen=True)
class Gazetteer:
    """Place names per source: name -> (lat, lon, radius in metres)."""

    sources: dict[str, dict[str, tuple[float, float, float]]] = field(
        default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Gazetteer:
        sources: dict[str, dict[str, tuple[float, float, float]]] = {}
        for source, places in (config.get("sources") or {}).items():
            sources[source] = {}
            for name, spec in places.items():
                lat, lon, radius = (float(spec[k]) for k in ("lat", "lon", "radius_m"))
                if not (-90 <= lat <= 90 and -180 <= lon <= 180 and radius > 0):
                    raise ValueError(f"places.yaml: {source}/{name} is not a place")
                sources[source][place_name(str(name))] = (lat, lon, radius)
        return cls(sources)

    def find(self, source: str, text: str) -> tuple[float, float, float] | None:
        """The circle of a place name given by a report of ``source``, if known."""
        places = self.sources.get(source)
        if not places or not text:
            return None
        return places.get(place_name(text))
