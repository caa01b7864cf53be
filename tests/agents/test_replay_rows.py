"""Reading and pacing a recorded log: what a user's own file may hold."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from agents.replay import FORMATS, read_rows, row_stamp

HEADER = "lat,lng,desc,zip,title,timeStamp,twp,addr,e"
ROW = ("40.2978759,-75.5812935,REINDEER CT & DEAD END; NEW HANOVER; Station 332;,"
       "19525,EMS: BACK PAINS/INJURY,2015-12-10 17:40:00,NEW HANOVER,"
       "REINDEER CT & DEAD END,1")


def test_a_log_saved_with_a_byte_order_mark_keeps_its_first_column(
        tmp_path: Path) -> None:
    log = tmp_path / "bom.csv"
    log.write_text(f"{HEADER}\n{ROW}\n", encoding="utf-8-sig")  # as Excel saves

    rows = read_rows(log)

    assert rows[0]["lat"] == "40.2978759"
    assert next(iter(rows[0])) == "lat"


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_a_windows_export_is_read_whole_not_refused(tmp_path: Path,
                                                   suffix: str) -> None:
    log = tmp_path / f"cp1252{suffix}"
    text = f"{HEADER}\n{ROW.replace('NEW HANOVER;', 'NUÑEZ ST – CAFÉ;')}\n{ROW}\n"
    data = text.encode("cp1252")
    log.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)

    rows = read_rows(log)

    assert len(rows) == 2 and rows[1]["lat"] == "40.2978759"
    assert "NUÑEZ ST – CAFÉ;" in rows[0]["desc"]


def test_a_field_past_the_csv_limit_names_the_file_and_line(tmp_path: Path) -> None:
    log = tmp_path / "long.csv"
    long_row = ROW.replace("REINDEER CT & DEAD END;", "x" * 200_000 + ";", 1)
    log.write_text(f"{HEADER}\n{ROW}\n{long_row}\n")

    with pytest.raises(ValueError, match=r"long\.csv: line 3: field larger"):
        read_rows(log)


def test_a_row_whose_time_is_no_time_is_not_paced() -> None:
    fmt = FORMATS["montgomery_pa"]
    first = row_stamp({"timeStamp": "2015-12-10 17:40:00"}, fmt)
    later = row_stamp({"timeStamp": "2015-12-10 17:41:30"}, fmt)

    assert first is not None and later is not None and later - first == 90.0
    assert row_stamp({"timeStamp": "not a time"}, fmt) is None
    assert row_stamp({}, fmt) is None
