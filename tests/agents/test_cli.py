"""The command line answers a wrong use with one line on stderr and exit 2,
before it touches a broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.cli import main


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        *argv: str) -> tuple[int, str]:
    monkeypatch.delenv("INTAKE_BROKER", raising=False)
    code = main(list(argv))
    err = capsys.readouterr().err.strip()
    return code, err


def test_a_split_without_a_broker_address_says_how_to_get_one(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = run(capsys, monkeypatch, "split", "--incident", "I-1", "--report",
                    "r1", "--by", "sup")
    assert code == 2
    assert err.startswith("error: a split needs the address of the broker")
    assert len(err.splitlines()) == 1


def test_a_split_needs_someone_who_decides(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = run(capsys, monkeypatch, "split", "--broker", "127.0.0.1:9",
                    "--incident", "I-1", "--report", "r1", "--by", "  ")
    assert (code, err) == (2, "error: --by must name who decides the split")


def test_a_split_reason_of_a_book_is_refused_before_it_is_sent(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, err = run(capsys, monkeypatch, "split", "--broker", "127.0.0.1:9",
                    "--incident", "I-1", "--report", "r1", "--by", "sup",
                    "--reason", "x" * 100_000)
    assert code == 2
    assert err == ("error: --reason is kept with both incidents: at most 500 "
                   "characters, not 100,000")


def test_a_replay_of_a_missing_log_fails_before_it_starts(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    missing = tmp_path / "nothing.csv"
    code, err = run(capsys, monkeypatch, "replay", "--broker", "127.0.0.1:9",
                    "--log", str(missing))
    assert (code, err) == (2, f"error: the log to replay is missing: {missing}")


def test_a_split_without_its_ids_is_refused_by_the_parser(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as exited:
        run(capsys, monkeypatch, "split", "--broker", "127.0.0.1:9")
    assert exited.value.code == 2
    assert "--incident" in capsys.readouterr().err


def test_a_fleet_is_stationed_from_each_sources_own_point_columns(
        tmp_path: Path) -> None:
    # Milwaukee names its point columns latitude/longitude, Montgomery lat/lng;
    # rows outside the service area or without a point station nothing.
    from agents.cli import fleet_points
    from agents.resources import load_models
    from agents.settings import Settings

    models = load_models(Settings().models_dir)
    mke = tmp_path / "mke.csv"
    mke.write_text("id,time,location,latitude,longitude,district,nature,status\n"
                   "1,2018-05-01 00:10:28,A,43.0818,-87.9301,4,THEFT,done\n"
                   "2,2018-05-01 00:11:28,B,,,4,THEFT,done\n"
                   "3,2018-05-01 00:12:28,C,40.1,-75.3,4,THEFT,done\n")
    assert fleet_points(models, mke, "milwaukee_wi", None) == [(43.0818, -87.9301)]
    mont = tmp_path / "mont.csv"
    mont.write_text("lat,lng,desc,zip,title,timeStamp,twp,addr,e\n"
                    "40.1,-75.3,x,,EMS: FALL VICTIM,2016-01-01 00:00:00,T,A,1\n")
    assert fleet_points(models, mont, "montgomery_pa", None) == [(40.1, -75.3)]


def test_the_summary_gives_surge_windows_in_the_sources_local_time() -> None:
    from agents.replay import format_summary
    from pipeline.summary import RunSummary

    run = RunSummary(reports_read=0)
    # 2016-01-23 00:15 UTC is 19:15 the evening before in Montgomery County.
    run.add_anomaly({"key": "ALL|Traffic", "start_ms": 1_453_508_100_000,
                     "end_ms": 1_453_511_700_000, "count": 25,
                     "expected_high": 21.96, "z": 4.2})
    figures = run.figures(elapsed_s=1.0)
    figures["source"] = "test.csv"

    local = format_summary(figures, "America/New_York")
    assert "ALL|Traffic" in local and "2016-01-22 19:15 EST" in local
    assert "2016-01-23 00:15 UTC" in format_summary(figures)


def test_the_worker_refuses_a_split_command_whose_reason_is_a_book() -> None:
    from agents.dedupe import read_split

    command = {"command": "split", "region": "r:montgomery_pa", "incident_id": "I-1",
               "report_id": "r1", "by": "sup", "at_ms": 0}
    assert read_split({**command, "reason": "two events"})["reason"] == "two events"
    with pytest.raises(ValueError, match="at most 500 characters, not 501"):
        read_split({**command, "reason": "x" * 501})


def test_a_failed_worker_is_quoted_from_its_own_run_only(tmp_path: Path) -> None:
    from agents.cli import RUN_MARK, worker_failure

    log = tmp_path / "worker.log"
    log.write_text(f"{RUN_MARK} 2026-01-01 00:00:00\nTraceback: an old failure\n"
                   f"{RUN_MARK} 2026-01-02 00:00:00\nstarting\nerror: topics missing\n")

    assert worker_failure(log) == "starting\nerror: topics missing"
    (tmp_path / "old.log").write_text("a\nb\n")  # a log from before the marks
    assert worker_failure(tmp_path / "old.log") == "a\nb"
