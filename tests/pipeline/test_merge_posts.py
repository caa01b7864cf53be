"""Where posts lose incident pairs (benchmarks/merge_posts.py)."""

from __future__ import annotations

from agents.resources import Models
from benchmarks.merge_posts import posts
from benchmarks.scenario import generate


def test_every_post_is_sorted_once_and_its_pairs_add_up(models: Models) -> None:
    """Each generated post is counted in one row; a post about no emergency
    misses no pair (it has none to miss), and a post alone or with its own
    incident only makes no wrong pair."""
    found = posts(models, 1, 600)
    rows = found["rows"]
    sent = sum(m.topic == "reports.raw.social" for m in generate(1, 600).messages)

    assert found["posts"] == sum(r["posts"] for r in rows) == sent
    assert {r["truth"] for r in rows} == {"about one", "about none"}
    assert all(r["missed_pairs"] == 0 for r in rows if r["truth"] == "about none")
    assert all(r["wrong_pairs"] == 0 for r in rows
               if r["outcome"] in ("alone", "with its own"))
    assert all(r["wrong_pairs"] > 0 for r in rows
               if r["outcome"] in ("wrong", "mixed"))
    assert found["missed_pairs"] == sum(r["missed_pairs"] for r in rows)
