"""The eval's untyped stream: reports as a source without call types gives them."""

from __future__ import annotations

from benchmarks.merge_eval import untyped
from pipeline.schema import Report


def test_an_untyped_report_keeps_its_kind_and_a_post_is_unchanged() -> None:
    call = Report("c", "s", "911", 0, 0, "collision", "VEHICLE ACCIDENT",
                  text="two cars")
    post = Report("p", "s", "social", 0, 0, "fire", "", text="flames downtown")

    bare = untyped(call)
    assert (bare.type_text, bare.kind, bare.text) == ("", "collision", "two cars")
    assert untyped(post) == post
