"""score, route and alert give the same results as three agents or as one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.replay import replay
from tests.e2e.conftest import (
    LivePipeline,
    montgomery_log,
    publish_test_fleet,
    read_topic,
    running_pipeline,
)

FLEET_ROWS = 2000
START, STOP = 4000, 4600  # rows no other test replays
SAME = ("reports_accounted", "dead_lettered_total", "incidents", "merges",
        "alerts", "alerts_by_rule", "alerts_suppressed", "units_assigned")


@pytest.fixture(scope="module")
def separate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePipeline]:
    work_dir = tmp_path_factory.mktemp("separate-stages")
    with running_pipeline(work_dir, fuse_incident_stages=False) as pipeline:
        publish_test_fleet(pipeline, FLEET_ROWS)
        yield pipeline


def run(pipeline: LivePipeline) -> dict[str, Any]:
    return replay(pipeline.bootstrap, montgomery_log(), "montgomery_pa",
                  limit=STOP, start=START, stall_s=60)


@pytest.fixture(scope="module")
def separate_figures(separate: LivePipeline) -> dict[str, Any]:
    return run(separate)


def test_separate_agents_pass_records_through_their_topics(
        separate: LivePipeline, separate_figures: dict[str, Any]) -> None:
    assert separate_figures["reports_accounted"] == STOP - START
    scored = read_topic(separate.bootstrap, "incidents.scored")
    routed = read_topic(separate.bootstrap, "incidents.routed")
    # Bundles: each message holds a list of records.
    assert sum(len(bundle) for bundle in scored) == STOP - START
    assert all("priority" in r for bundle in scored for r in bundle)
    assert sum(len(bundle) for bundle in routed) == STOP - START
    assert all("units" in r for bundle in routed for r in bundle)


def test_fused_and_separate_stages_agree(tmp_path: Path,
                                         separate_figures: dict[str, Any]) -> None:
    # A fresh pipeline of the default shape: matching state left by other
    # tests' reports would change the results (a cell's clock moves on).
    with running_pipeline(tmp_path) as pipeline:
        assert pipeline.settings.fuse_incident_stages
        publish_test_fleet(pipeline, FLEET_ROWS)
        fused = run(pipeline)
    assert {k: fused[k] for k in SAME} == {k: separate_figures[k] for k in SAME}
    assert fused["reports_accounted"] == STOP - START
