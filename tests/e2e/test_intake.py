"""Nothing lost at intake, on a real broker and worker: every shared data file's
first rows and 5,000 malformed messages; raw in = normalized + dead-lettered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.intake import (
    agent_restarts,
    check,
    collect,
    corpus_messages,
    feed_messages,
    produce,
)
from tests.e2e.conftest import LivePipeline, running_pipeline

ROWS_PER_FILE = 150
MALFORMED = 5_000


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[LivePipeline, dict[str, Any]]]:
    with running_pipeline(tmp_path_factory.mktemp("intake")) as pipeline:
        messages = feed_messages(ROWS_PER_FILE) + corpus_messages(MALFORMED, seed=11)
        refs = produce(pipeline.bootstrap, messages)
        outcome = collect(pipeline.bootstrap, refs, stall_s=60)
        yield pipeline, check(refs, outcome)


def test_raw_in_equals_normalized_plus_dead_lettered(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    _, figures = intake
    assert figures["raw_in"] == 8 * ROWS_PER_FILE + MALFORMED
    assert figures["lost"] == 0
    assert figures["both"] == 0 and figures["normalized_twice"] == 0
    assert figures["normalized"] + figures["dead_lettered"] == figures["raw_in"]


def test_every_recorded_file_normalizes_and_bad_input_has_reasons(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    _, figures = intake
    feeds = {k: v for k, v in figures["by_feed"].items() if k != "malformed"}
    assert len(feeds) == 8
    for name, counts in feeds.items():
        assert counts == {"normalized": ROWS_PER_FILE}, name
    reasons = figures["dead_letter_reasons"]
    assert {"malformed_json", "not_an_object", "oversized", "bad_time"} <= set(reasons)
    malformed = figures["by_feed"]["malformed"]
    assert malformed["normalized"] > 1_000  # repaired, flagged
    assert malformed["dead_lettered"] > 2_000


def test_no_agent_crashed_on_any_of_it(
        intake: tuple[LivePipeline, dict[str, Any]]) -> None:
    pipeline, _ = intake
    assert agent_restarts(pipeline.settings.web_port) == 0
    health = pipeline.health()
    assert health["crashed_agents"] == {} and health["status"] == "ok"
