"""Reading and pacing a recorded log: what a user's own file may hold."""

from __future__ import annotations

from pathlib import Path

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


def test_a_row_whose_time_is_no_time_is_not_paced() -> None:
    fmt = FORMATS["montgomery_pa"]
    first = row_stamp({"timeStamp": "2015-12-10 17:40:00"}, fmt)
    later = row_stamp({"timeStamp": "2015-12-10 17:41:30"}, fmt)

    assert first is not None and later is not None and later - first == 90.0
    assert row_stamp({"timeStamp": "not a time"}, fmt) is None
    assert row_stamp({}, fmt) is None
