"""``make demo`` end to end on a slice of the shipped log: every report
accounted for, a summary written, and nothing left in Redis of a broker that
is gone."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import redis

from agents.cli import main
from tests.e2e.conftest import REDIS_URL

ROWS = 300


def test_the_demo_replays_accounts_for_every_row_and_leaves_no_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    app_id = f"test-demo-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("INTAKE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("INTAKE_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.delenv("INTAKE_BROKER", raising=False)

    code = main(["demo", "--limit", str(ROWS), "--app-id", app_id,
                 "--redis-url", REDIS_URL])

    said = capsys.readouterr()
    assert code == 0, said.err[-2000:]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["reports_accounted"] == ROWS
    assert summary["incidents"] > 0 and summary["units_assigned"] > 0
    assert "removed the run's" in said.err + said.out
    left = list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{app_id}:*"))
    assert left == []
