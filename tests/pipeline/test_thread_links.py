"""Two identities of one person: a post's handle and a call's number."""

from __future__ import annotations

from pipeline.thread import (
    fields_words,
    link_late_caller,
    link_voice,
    personal_words,
)

MIN_MS = 60_000


def words(text: str) -> frozenset[str]:
    return personal_words(text)


def test_personal_words_leave_out_what_everyone_says() -> None:
    assert words("Caller reports a crash, there is a blue pickup") == {
        "crash", "blue", "pickup"}
    assert personal_words("crash at haws ave; a blue pickup", {"crash", "haws"}) \
        == {"ave", "blue", "pickup"}


def test_the_first_words_of_a_street_name_are_the_address() -> None:
    # "run ct" is how the incident knows the street; "deer" and "valley" are
    # the address too, not something the witness noticed.
    assert personal_words("at Deer Run Ct & Valley Hill Trl; a tree down") == {
        "run", "hill", "trl", "tree"}
    assert personal_words("a blue pickup near main st") == {"blue", "pickup",
                                                            "main"}


def test_event_words_read_a_street_inside_its_own_field() -> None:
    # The type, then the street, then the kind: "church rd road hazard" read
    # as one text would take "disabled" and "church" for a street's name.
    assert fields_words(["DISABLED VEHICLE", "argyle rd & s church rd",
                         "road hazard"]) == {"disabled", "vehicle", "argyle",
                                             "church", "road", "hazard"}


def test_a_number_links_to_the_one_handle_that_said_the_same() -> None:
    voices = {"rp:a": ["social", 0, sorted(words("crash; a blue pickup"))],
              "rp:b": ["social", MIN_MS, sorted(words("crash; a white van"))]}
    link = link_voice(voices, "rp:c", "911", 5 * MIN_MS,
                      words("caller reports a crash, blue pickup upside down"),
                      1800, 2)
    assert link is not None and link.same_as == "rp:a"
    assert link.reasons == ("both say blue pickup", "5.0 min apart",
                            "social then 911, in one incident")


def test_no_link_on_a_tie_on_one_channel_kind_too_late_or_few_words() -> None:
    said = sorted(words("a blue pickup"))
    tie = {"rp:a": ["social", 0, said], "rp:b": ["social", 0, said]}
    assert link_voice(tie, "rp:c", "911", 0, words("blue pickup"), 1800, 2) is None
    # Two voices that said it are not personal to either: nothing links.
    posts = {"rp:a": ["social", 0, said]}
    assert link_voice(posts, "rp:b", "social", 0, words("blue pickup"), 1800,
                      2) is None
    assert link_voice(posts, "rp:c", "911", 31 * MIN_MS, words("blue pickup"),
                      1800, 2) is None
    assert link_voice(posts, "rp:c", "911", 0, words("blue thing"), 1800,
                      2) is None
    assert link_voice(posts, "rp:c", "911", 0, words("blue thing"), 1800,
                      1) is not None  # one word that nobody else said
    assert link_voice(posts, "rp:a", "911", 0, words("blue pickup"), 1800,
                      2) is None  # already a voice of the incident


def test_a_post_after_a_call_links_to_nothing() -> None:
    # The post comes first, then the call: a post is never linked to the
    # calls before it, however much it shares with one.
    calls = {"rp:a": ["911", 0, sorted(words("crash; a blue pickup"))]}
    assert link_voice(calls, "rp:h", "social", 5 * MIN_MS,
                      words("omg crash, blue pickup upside down"), 1800, 2) is None


def test_a_caller_before_the_post_does_not_make_its_words_common() -> None:
    # A caller said "blue pickup", then a post said it, then the post's
    # author called: the first caller is a second witness, not a rival.
    said = sorted(words("crash; a blue pickup"))
    voices = {"rp:a": ["911", 0, said], "rp:h": ["social", 2 * MIN_MS, said]}
    link = link_voice(voices, "rp:c", "911", 6 * MIN_MS, words("blue pickup"),
                      1800, 2)
    assert link is not None and link.same_as == "rp:h"
    # A caller who spoke after the post may be its author: nothing links.
    voices["rp:a"][1] = 3 * MIN_MS
    assert link_voice(voices, "rp:c", "911", 6 * MIN_MS, words("blue pickup"),
                      1800, 2) is None


def test_a_late_caller_who_says_nothing_new_is_the_one_posts_author() -> None:
    post = sorted(words("omg a crash on main st"))
    voices = {"rp:a": ["911", 0, []], "rp:h": ["social", 4 * MIN_MS, post, ""]}
    link = link_late_caller(voices, "rp:c", "911", 12 * MIN_MS, frozenset(),
                            0, 600, 1800)
    assert link is not None and link.same_as == "rp:h"
    assert link.reasons[0] == ("a new caller 12 min after the incident began, "
                               "saying nothing the post did not")
    # Early in the incident any witness may call; words the post lacks are a
    # thing its author would have said there too; not for a text, nor when
    # off (None).
    assert link_late_caller(voices, "rp:c", "911", 8 * MIN_MS, frozenset(),
                            0, 600, 1800) is None
    assert link_late_caller(voices, "rp:c", "911", 12 * MIN_MS,
                            words("a blue pickup"), 0, 600, 1800) is None
    assert link_late_caller(voices, "rp:c", "911", 12 * MIN_MS, words("crash"),
                            0, 600, 1800) is not None
    # A word another caller said too is the call-taker's, not the caller's.
    voices["rp:a"][2] = ["passer"]
    assert link_late_caller(voices, "rp:c", "911", 12 * MIN_MS,
                            words("passer-by reports a crash"), 0, 600,
                            1800) is not None
    assert link_late_caller(voices, "rp:c", "sms", 12 * MIN_MS, frozenset(),
                            0, 600, 1800) is None
    assert link_late_caller(voices, "rp:c", "911", 12 * MIN_MS, frozenset(),
                            0, None, 1800) is None


def test_no_late_link_to_two_posts_or_to_a_linked_one() -> None:
    post = sorted(words("omg a crash"))
    two = {"rp:h": ["social", 4 * MIN_MS, post, ""],
           "rp:g": ["social", 5 * MIN_MS, post, ""]}
    assert link_late_caller(two, "rp:c", "911", 12 * MIN_MS, frozenset(), 0,
                            600, 1800) is None
    two["rp:g"][3] = "rp:d"  # its author called already: one post is left
    link = link_late_caller(two, "rp:c", "911", 12 * MIN_MS, frozenset(), 0,
                            600, 1800)
    assert link is not None and link.same_as == "rp:h"
    assert link_late_caller(two, "rp:c", "911", 40 * MIN_MS, frozenset(), 0,
                            600, 1800) is None  # too long after the post
    assert link_late_caller(two, "rp:c", "911", 2 * MIN_MS, frozenset(),
                            -10 * MIN_MS, 600, 1800) is None  # before the post
