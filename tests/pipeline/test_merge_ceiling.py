"""The ceiling on incident F1 (benchmarks/merge_ceiling.py)."""

from __future__ import annotations

import math
import random

import pytest

from agents.resources import Models
from benchmarks.merge_ceiling import _guesses, area_density, ceiling
from benchmarks.scenario import HANDSET, NETWORK, FixAccuracy, ScenarioParams, generate


@pytest.mark.parametrize("fix", [HANDSET, NETWORK])
def test_the_error_density_is_a_density_with_the_fcc_quantiles(fix: FixAccuracy
                                                               ) -> None:
    """Integrated over rings, it sums to one, 0.67 within r67 and 0.80 within
    r80: the mixture the generator draws from."""
    step = 0.5

    def within(radius: float) -> float:
        rings = int(radius / step)
        return sum(area_density((i + 0.5) * step, fix) * 2 * math.pi
                   * (i + 0.5) * step * step for i in range(rings))

    assert within(fix.r67_m) == pytest.approx(0.67, abs=0.005)
    assert within(fix.r80_m) == pytest.approx(0.80, abs=0.005)
    assert within(3000.0) == pytest.approx(1.0, abs=0.005)


def test_a_stream_that_places_every_report_has_a_ceiling_of_one(
        models: Models) -> None:
    """Civic fixes with addresses, no posts, no texts first: nothing is open."""
    params = ScenarioParams(fix_methods=(0.0, 0.0, 1.0), p_social=(0.0, 0.0),
                            p_sms_first=0.0, p_sms_follow_up=0.0)
    found = ceiling(generate(1, 300, params), models, params)
    assert (found.f1, found.wrong) == (1.0, {})


def test_calls_that_say_nothing_of_where_lower_the_ceiling(models: Models) -> None:
    """No fix and no address: only the call type and time tell incidents
    apart, and several of one type at once cannot be told apart."""
    params = ScenarioParams(fix_methods=(0.0, 0.0, 0.0), p_spoken_address=0.0,
                            p_social=(0.0, 0.0))
    found = ceiling(generate(1, 600, params), models, params)
    assert found.f1 < 1.0
    assert found.wrong.get("placeless", 0) + found.wrong.get("alone", 0) > 0
    assert set(found.wrong) <= {"placeless", "alone"}


def test_held_posts_left_alone_lower_the_ceiling(models: Models) -> None:
    scenario = generate(1, 600)
    posts = {m.truth.report_id for m in scenario.messages
             if m.topic == "reports.raw.social"}
    found = ceiling(scenario, models, held=posts)
    assert found.f1_held_alone is not None
    assert found.f1_held_alone < found.f1


def test_posts_about_no_emergency_stay_alone_and_are_nobody_s_candidate(
        models: Models) -> None:
    """The ceiling knows which posts tell of no incident (generous): they are
    decided right, and no real report is put with one."""
    params = ScenarioParams(distractor_posts=3.0)
    scenario = generate(1, 600, params)
    alone = {i.incident_id for i in scenario.incidents if i.role == "no_emergency"}
    assert alone
    truth, guesses = _guesses(scenario, models, params, random.Random(0))
    assert not {rid for rid in guesses if truth[rid] in alone}
    assert not {pick for _, pick, _ in guesses.values()} & alone
