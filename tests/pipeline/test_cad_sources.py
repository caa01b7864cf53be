"""cad_sources: Milwaukee, SF Fire and SFPD rows, and the generic JSON call record."""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.resources import Models
from agents.settings import ROOT
from pipeline.cad_sources import CAD_SOURCES, from_call
from pipeline.fields import Invalid, reporter_token
from pipeline.schema import LOCATION_KNOWN, LOCATION_UNKNOWN, Report

DATA = ROOT.parent / "shared" / "data"
SHARED_FILES = {
    "milwaukee_wi": DATA / "milwaukee_police_calls"
    / "mpd_calls_2018-05-01_to_2018-05-14.csv",
    "sf_fire": DATA / "sf_fire_calls"
    / "sffd_unit_dispatches_2016-12-31_to_2017-01-04.csv",
    "sf_police": DATA / "sf_police_dispatched_calls_sample"
    / "sfpd_dispatched_calls_random_sample.csv",
    "seattle_wa": DATA / "seattle_pd_911_incident_response"
    / "spd_911_incident_response_2016-03-25.csv",
}
#: Rows of a shared file that may be rejected, at most.
MAX_INVALID_SHARE = 0.01


def utc_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
           second: int = 0) -> int:
    moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    return int(moment.timestamp() * 1000)


RECEIVED_MS = utc_ms(2018, 5, 1, 6)

# Rows as the sources published them.
MKE_ROW: dict[str, str] = {
    "id": "1211372", "time": "2018-05-01 00:10:28", "location": "5237 N 35TH ST,MKE",
    "latitude": "43.1127987", "longitude": "-87.95674149999999", "district": "4",
    "nature": "TRBL W/SUBJ", "status": "Unable to Locate Complainant",
}
MKE_SHOTS: dict[str, str] = {
    "id": "1211382", "time": "2018-05-01 00:15:13",
    "location": "N 51ST BL / W ROOSEVELT DR,MKE", "latitude": "43.0813539",
    "longitude": "-87.9772074", "district": "7", "nature": "SHOTS FIRED",
    "status": "Unable to Locate Complainant",
}

# Call 163660124: what its three unit rows share, then each unit's own columns.
SF_FIRE_CALL: dict[str, str] = {
    "Call Number": "163660124", "Incident Number": "16146570",
    "Call Type": "Medical Incident", "Call Date": "12/31/2016",
    "Watch Date": "12/30/2016", "Received DtTm": "12/31/2016 12:44:45 AM",
    "Entry DtTm": "12/31/2016 12:46:48 AM", "Dispatch DtTm": "12/31/2016 12:47:05 AM",
    "Call Final Disposition": "Code 2 Transport", "Address": "JEFFERSON ST/HYDE ST",
    "City": "San Francisco", "Zipcode of Incident": "94109", "Battalion": "B01",
    "Station Area": "28", "Box": "0947", "Original Priority": "3", "Priority": "3",
    "Final Priority": "3", "Call Type Group": "Potentially Life-Threatening",
    "Number of Alarms": "1", "Fire Prevention District": "1",
    "Supervisor District": "2", "Neighborhood  District": "Russian Hill",
    "Location": "(37.8075901055183, -122.420743268989)",
}
SF_FIRE_UNITS: list[dict[str, str]] = [
    {"Unit ID": "E28", "Response DtTm": "12/31/2016 12:48:43 AM",
     "On Scene DtTm": "12/31/2016 12:51:42 AM", "Transport DtTm": "",
     "Hospital DtTm": "", "Available DtTm": "12/31/2016 12:51:57 AM",
     "ALS Unit": "false", "Unit Type": "ENGINE",
     "Unit sequence in call dispatch": "1", "RowID": "163660124-E28"},
    {"Unit ID": "E02", "Response DtTm": "12/31/2016 12:48:41 AM",
     "On Scene DtTm": "12/31/2016 12:51:50 AM", "Transport DtTm": "",
     "Hospital DtTm": "", "Available DtTm": "12/31/2016 01:02:04 AM",
     "ALS Unit": "true", "Unit Type": "ENGINE",
     "Unit sequence in call dispatch": "2", "RowID": "163660124-E02"},
    {"Unit ID": "62", "Response DtTm": "12/31/2016 12:48:03 AM",
     "On Scene DtTm": "12/31/2016 12:55:08 AM",
     "Transport DtTm": "12/31/2016 01:11:16 AM",
     "Hospital DtTm": "12/31/2016 01:30:21 AM",
     "Available DtTm": "12/31/2016 01:59:39 AM", "ALS Unit": "true",
     "Unit Type": "MEDIC", "Unit sequence in call dispatch": "3",
     "RowID": "163660124-62"},
]
SF_FIRE_ROW = {**SF_FIRE_CALL, **SF_FIRE_UNITS[0]}

SFPD_ROW: dict[str, str] = {
    "cad_number": "240082446", "dup_cad_number": "",
    "pd_incident_report": "PD240017372",
    "received_datetime": "01/08/2024 05:19:14 PM",
    "entry_datetime": "01/08/2024 05:21:31 PM",
    "dispatch_datetime": "01/08/2024 05:53:27 PM",
    "enroute_datetime": "01/08/2024 05:53:27 PM",
    "onscene_datetime": "01/08/2024 06:05:28 PM",
    "close_datetime": "01/08/2024 06:27:24 PM", "call_type_original": "418DV",
    "call_type_original_desc": "FIGHT NO WEAPON DV", "call_type_original_notes": "",
    "call_type_final": "240", "call_type_final_desc": "ASSAULT / BATTERY",
    "call_type_final_notes": "", "priority_original": "B", "priority_final": "A",
    "agency": "Police", "disposition": "REP", "onview_flag": "N",
    "sensitive_call": "false", "intersection_name": "TURK ST \\ DODGE ST",
    "intersection_id": "25137000", "intersection_point": "POINT (-122.416985 37.78242)",
    "supervisor_district": "6", "analysis_neighborhood": "Tenderloin",
    "police_district": "TENDERLOIN", "data_as_of": "01/09/2024 01:30:02 AM",
    "data_updated_at": "01/09/2024 02:30:40 AM",
    "data_loaded_at": "01/09/2024 10:13:33 AM",
    "source_filename": "closecall2024-01-09_01-30-02", "Neighborhoods": "20",
    "SF_Find_Neighborhoods": "20", "Current_Police_Districts": "5",
    "Current_Supervisor_Districts": "10", "Analysis_Neighborhoods": "36",
}
# A sensitive call: DataSF blanks every location column.
SFPD_SENSITIVE = {
    **SFPD_ROW, "cad_number": "160032889", "sensitive_call": "true",
    "received_datetime": "01/03/2016 08:08:39 PM", "intersection_name": "",
    "intersection_id": "", "intersection_point": "", "supervisor_district": "",
    "analysis_neighborhood": "", "police_district": "",
}


def parse(models: Models, source: str, row: dict[str, Any]) -> Report:
    return CAD_SOURCES[source](row, RECEIVED_MS, models.normalize, "t:0:1")


def reason(models: Models, source: str, row: dict[str, Any]) -> str:
    with pytest.raises(Invalid) as caught:
        parse(models, source, row)
    assert caught.value.detail
    return caught.value.reason


# --- Milwaukee -------------------------------------------------------------------


def test_milwaukee_row_becomes_a_report(models: Models) -> None:
    report = parse(models, "milwaukee_wi", MKE_ROW)

    assert report.report_id == "milwaukee_wi:1211372"
    assert (report.source, report.channel, report.discipline) == (
        "milwaukee_wi", "911", "Police")
    # 00:10:28 CDT is 05:10:28 UTC.
    assert report.event_ms == utc_ms(2018, 5, 1, 5, 10, 28)
    assert (report.type_text, report.kind) == ("TRBL W/SUBJ", "disturbance")
    assert (report.lat, report.lon) == (43.1127987, -87.95674149999999)
    assert report.location == LOCATION_KNOWN
    assert report.area == "MKE District 4"
    assert report.address == "5237 N 35TH ST,MKE"
    assert report.details == {"status": "Unable to Locate Complainant"}
    assert (report.raw_ref, report.flags) == ("t:0:1", ())


def test_milwaukee_shots_fired_is_a_shooting(models: Models) -> None:
    assert parse(models, "milwaukee_wi", MKE_SHOTS).kind == "shooting"


@pytest.mark.parametrize(
    ("local", "utc", "flag"),
    [
        # 02:30 does not exist on 2018-03-11 in Chicago: moved on by the gap.
        ("2018-03-11 02:30:00", (2018, 3, 11, 8, 30), "nonexistent_local_time"),
        # 01:30 happens twice on 2018-11-04: the first (CDT) is taken.
        ("2018-11-04 01:30:00", (2018, 11, 4, 6, 30), "ambiguous_local_time"),
    ],
)
def test_milwaukee_dst_edges(models: Models, local: str, utc: tuple[int, ...],
                             flag: str) -> None:
    report = parse(models, "milwaukee_wi", {**MKE_ROW, "time": local})

    assert report.event_ms == utc_ms(*utc)
    assert flag in report.flags


def test_milwaukee_named_district_and_missing_district(models: Models) -> None:
    assert parse(models, "milwaukee_wi", {**MKE_ROW, "district": "OUT"}).area == (
        "MKE OUT")
    assert parse(models, "milwaukee_wi", {**MKE_ROW, "district": ""}).area == (
        "UNKNOWN")


@pytest.mark.parametrize(
    ("lat", "lon", "flag"),
    [
        ("", "", "location_missing"),
        ("43.11 N", "-87.95", "location_invalid"),
        ("0", "0", "location_invalid"),
        ("nan", "-87.95", "location_invalid"),
        # A geocoder miss of the published data: 2126 W HAYES placed in Iowa.
        ("41.5475723", "-90.60726939999999", "location_outside_area"),
    ],
)
def test_milwaukee_bad_places_are_unknown_never_invented(
    models: Models, lat: str, lon: str, flag: str
) -> None:
    report = parse(models, "milwaukee_wi", {**MKE_ROW, "latitude": lat,
                                             "longitude": lon})

    assert (report.lat, report.lon, report.location) == (None, None,
                                                         LOCATION_UNKNOWN)
    assert flag in report.flags
    assert report.address == MKE_ROW["location"]


def test_milwaukee_swapped_pair_is_swapped_back(models: Models) -> None:
    row = {**MKE_ROW, "latitude": MKE_ROW["longitude"],
           "longitude": MKE_ROW["latitude"]}
    report = parse(models, "milwaukee_wi", row)

    assert (report.lat, report.lon) == (43.1127987, -87.95674149999999)
    assert "location_swapped" in report.flags


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"id": ""}, "missing_id"),
        ({"id": "   "}, "missing_id"),
        ({"id": None}, "missing_id"),
        ({"time": ""}, "missing_time"),
        ({"time": "2018-05-01"}, "bad_time"),
        ({"time": "2018-13-01 00:10:28"}, "bad_time"),
        ({"time": "05/01/2018 12:10:28 AM"}, "bad_time"),
        ({"nature": ""}, "missing_nature"),
        ({"nature": ["SHOTS FIRED"]}, "wrong_type_nature"),
    ],
)
def test_milwaukee_rejections(models: Models, change: dict[str, Any],
                              code: str) -> None:
    assert reason(models, "milwaukee_wi", {**MKE_ROW, **change}) == code


def test_milwaukee_row_without_id_column_is_rejected(models: Models) -> None:
    row = {k: v for k, v in MKE_ROW.items() if k != "id"}

    assert reason(models, "milwaukee_wi", row) == "missing_id"


# --- San Francisco Fire ----------------------------------------------------------


def test_sf_fire_row_becomes_a_report(models: Models) -> None:
    report = parse(models, "sf_fire", SF_FIRE_ROW)

    assert report.report_id == "sf_fire:163660124"
    # 12:44:45 AM PST is 08:44:45 UTC.
    assert report.event_ms == utc_ms(2016, 12, 31, 8, 44, 45)
    assert (report.kind, report.discipline) == ("medical", "EMS")
    assert (report.lat, report.lon) == (37.8075901055183, -122.420743268989)
    assert report.area == "Russian Hill"
    assert report.address == "JEFFERSON ST/HYDE ST"
    assert report.details["Original Priority"] == "3"
    assert report.details["Call Final Disposition"] == "Code 2 Transport"
    assert report.details["Unit ID"] == "E28"
    assert report.flags == ()


def test_sf_fire_unit_rows_are_versions_of_one_report(models: Models) -> None:
    reports = [parse(models, "sf_fire", {**SF_FIRE_CALL, **unit})
               for unit in SF_FIRE_UNITS]

    assert {r.report_id for r in reports} == {"sf_fire:163660124"}
    assert {r.event_ms for r in reports} == {utc_ms(2016, 12, 31, 8, 44, 45)}
    # Each row's latest stamp: Available 12:51:57, 01:02:04, 01:59:39 AM PST.
    assert [r.version_ms for r in reports] == [
        utc_ms(2016, 12, 31, 8, 51, 57),
        utc_ms(2016, 12, 31, 9, 2, 4),
        utc_ms(2016, 12, 31, 9, 59, 39),
    ]


def test_sf_fire_unparseable_later_stamp_is_left_out_of_the_version(
    models: Models,
) -> None:
    report = parse(models, "sf_fire", {**SF_FIRE_ROW, "Available DtTm": "soon"})

    assert report.version_ms == utc_ms(2016, 12, 31, 8, 51, 42)


def test_sf_fire_kinds_and_disciplines(models: Models) -> None:
    def kind(call_type: str) -> tuple[str, str]:
        report = parse(models, "sf_fire", {**SF_FIRE_ROW, "Call Type": call_type})
        return report.kind, report.discipline

    assert kind("Structure Fire") == ("structure_fire", "Fire")
    assert kind("Alarms") == ("fire_alarm", "Fire")
    assert kind("Traffic Collision") == ("collision", "Fire")
    assert kind("Gas Leak (Natural and LP Gases)") == ("hazmat", "Fire")
    assert kind("Other") == ("other", "Fire")


def test_sf_fire_spring_forward_received_time(models: Models) -> None:
    row = {**SF_FIRE_ROW, "Received DtTm": "03/12/2017 02:15:00 AM"}
    report = parse(models, "sf_fire", row)

    # No 02:15 that night in Los Angeles: 03:15 PDT, 10:15 UTC.
    assert report.event_ms == utc_ms(2017, 3, 12, 10, 15)
    assert "nonexistent_local_time" in report.flags


@pytest.mark.parametrize(
    ("location", "flag"),
    [
        ("", "location_missing"),
        ("(37.80, )", "location_invalid"),
        ("37.8075901055183 -122.420743268989", "location_invalid"),
        ("(0.0, 0.0)", "location_invalid"),
        ("(34.0522, -118.2437)", "location_outside_area"),
    ],
)
def test_sf_fire_bad_locations(models: Models, location: str, flag: str) -> None:
    report = parse(models, "sf_fire", {**SF_FIRE_ROW, "Location": location})

    assert (report.location, report.lat) == (LOCATION_UNKNOWN, None)
    assert flag in report.flags




def test_sf_fire_swapped_location(models: Models) -> None:
    row = {**SF_FIRE_ROW, "Location": "(-122.420743268989, 37.8075901055183)"}
    report = parse(models, "sf_fire", row)

    assert (report.lat, report.lon) == (37.8075901055183, -122.420743268989)
    assert "location_swapped" in report.flags


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Call Number": ""}, "missing_call_number"),
        ({"Received DtTm": ""}, "missing_received_dttm"),
        ({"Received DtTm": "2016-12-31 00:44:45"}, "bad_time"),
        ({"Received DtTm": "12/31/2016 13:44:45 PM"}, "bad_time"),
        ({"Call Type": ""}, "missing_call_type"),
    ],
)
def test_sf_fire_rejections(models: Models, change: dict[str, str],
                            code: str) -> None:
    assert reason(models, "sf_fire", {**SF_FIRE_ROW, **change}) == code


# --- San Francisco Police --------------------------------------------------------


def test_sf_police_row_becomes_a_report(models: Models) -> None:
    report = parse(models, "sf_police", SFPD_ROW)

    assert report.report_id == "sf_police:240082446"
    # 05:19:14 PM PST on Jan 8 is 01:19:14 UTC on Jan 9.
    assert report.event_ms == utc_ms(2024, 1, 9, 1, 19, 14)
    assert report.version_ms == utc_ms(2024, 1, 9, 10, 30, 40)
    # The call-taker's type decides; the final type is kept as a detail.
    assert (report.type_text, report.kind) == ("FIGHT NO WEAPON DV", "assault")
    assert report.details["call_type_final_desc"] == "ASSAULT / BATTERY"
    assert (report.details["priority_original"],
            report.details["priority_final"]) == ("B", "A")
    assert (report.lat, report.lon) == (37.78242, -122.416985)
    assert report.area == "Tenderloin"
    assert report.address == "TURK ST \\ DODGE ST"
    assert report.discipline == "Police"


def test_sf_police_sensitive_call_has_no_place(models: Models) -> None:
    report = parse(models, "sf_police", SFPD_SENSITIVE)

    assert (report.location, report.area) == (LOCATION_UNKNOWN, "UNKNOWN")
    assert "location_missing" in report.flags


def test_sf_police_fall_back_hour_takes_the_first(models: Models) -> None:
    row = {**SFPD_ROW, "received_datetime": "11/06/2016 01:30:00 AM"}
    report = parse(models, "sf_police", row)

    assert report.event_ms == utc_ms(2016, 11, 6, 8, 30)
    assert "ambiguous_local_time" in report.flags


def test_sf_police_type_falls_back_to_the_final_type(models: Models) -> None:
    row = {**SFPD_ROW, "call_type_original_desc": ""}

    assert parse(models, "sf_police", row).type_text == "ASSAULT / BATTERY"


def test_sf_police_swapped_point(models: Models) -> None:
    swapped = parse(models, "sf_police", {
        **SFPD_ROW, "intersection_point": "POINT (37.78242 -122.416985)"})

    assert (swapped.lat, swapped.lon) == (37.78242, -122.416985)
    assert "location_swapped" in swapped.flags


@pytest.mark.parametrize("point", ["POINT ()", "(37.78242, -122.416985)",
                                   "POINT (-122.416985 north)"])
def test_sf_police_unreadable_point_is_unknown(models: Models, point: str) -> None:
    bad = parse(models, "sf_police", {**SFPD_ROW, "intersection_point": point})

    assert (bad.location, bad.lat) == (LOCATION_UNKNOWN, None)
    assert "location_invalid" in bad.flags
    assert bad.address == SFPD_ROW["intersection_name"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"cad_number": ""}, "missing_cad_number"),
        ({"received_datetime": ""}, "missing_received_datetime"),
        ({"received_datetime": "01/08/2024"}, "bad_time"),
        ({"call_type_original_desc": "", "call_type_final_desc": "",
          "call_type_original": "", "call_type_final": ""}, "missing_call_type"),
    ],
)
def test_sf_police_rejections(models: Models, change: dict[str, str],
                              code: str) -> None:
    assert reason(models, "sf_police", {**SFPD_ROW, **change}) == code


# --- every row of the shared files -----------------------------------------------


@pytest.mark.parametrize("source", sorted(SHARED_FILES))
def test_every_shared_row_is_a_report_or_an_invalid(models: Models,
                                                    source: str) -> None:
    with SHARED_FILES[source].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))

    reports: list[Report] = []
    reasons: list[str] = []
    for row in rows:
        try:
            reports.append(parse(models, source, row))
        except Invalid as exc:
            assert exc.reason, row
            reasons.append(exc.reason)

    invalid_share = len(reasons) / len(rows)
    other_share = sum(r.kind == "other" for r in reports) / len(rows)
    print(f"{source}: {len(rows)} rows, invalid {invalid_share:.2%}, "
          f"other {other_share:.2%}")
    assert invalid_share <= MAX_INVALID_SHARE
    assert all(r.report_id.startswith(f"{source}:") for r in reports)


def test_sf_fire_file_gives_one_report_id_per_call(models: Models) -> None:
    with SHARED_FILES["sf_fire"].open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))

    ids = {parse(models, "sf_fire", row).report_id for row in rows}

    assert len(ids) == len({row["Call Number"] for row in rows})


SEATTLE_ROW: dict[str, str] = {
    "CAD CDW ID": "1701856", "CAD Event Number": "16000104006",
    "General Offense Number": "2016104006", "Event Clearance Code": "063",
    "Event Clearance Description": "THEFT - CAR PROWL",
    "Event Clearance SubGroup": "CAR PROWL", "Event Clearance Group": "CAR PROWL",
    "Event Clearance Date": "03/25/2016 11:58:30 PM",
    "Hundred Block Location": "S KING ST / 8 AV S", "District/Sector": "K",
    "Zone/Beat": "K3", "Census Tract": "9100.1019", "Longitude": "-122.32245",
    "Latitude": "47.598347", "Incident Location": "(47.598347, -122.32245)",
    "Initial Type Description": "THEFT (DOES NOT INCLUDE SHOPLIFT OR SVCS)",
    "Initial Type Subgroup": "OTHER PROPERTY", "Initial Type Group": "THEFT",
    "At Scene Time": "03/25/2016 10:25:51 PM",
}


def test_seattle_row_takes_the_initial_type_and_the_arrival_time(
        models: Models) -> None:
    report = parse(models, "seattle_wa", SEATTLE_ROW)

    assert report.report_id == "seattle_wa:16000104006"
    assert report.kind == "burglary"  # THEFT; the clearance says CAR PROWL
    assert report.event_ms == utc_ms(2016, 3, 26, 5, 25, 51)  # PDT is UTC-7
    assert "time_at_scene" in report.flags
    assert (report.lat, report.lon, report.area) == (47.598347, -122.32245,
                                                     "SEA Sector K")
    assert report.details["Event Clearance Description"] == "THEFT - CAR PROWL"


def test_seattle_row_without_arrival_falls_back_to_clearance(
        models: Models) -> None:
    report = parse(models, "seattle_wa", dict(SEATTLE_ROW, **{"At Scene Time": ""}))

    assert report.event_ms == utc_ms(2016, 3, 26, 6, 58, 30)
    assert "time_at_clearance" in report.flags
    with pytest.raises(Invalid) as caught:
        parse(models, "seattle_wa", dict(SEATTLE_ROW, **{
            "At Scene Time": "", "Event Clearance Date": ""}))
    assert caught.value.reason == "missing_time"


# --- the generic JSON call record ------------------------------------------------


def call(**fields: Any) -> dict[str, Any]:
    """A valid call record; a field given as ``...`` is left out."""
    payload: dict[str, Any] = {
        "call_id": "C-1",
        "time": "2016-01-23T12:00:00Z",
        "type": "vehicle accident",
        "location": {"lat": 40.1, "lon": -75.3, "accuracy_m": 30,
                     "method": "handset"},
    }
    payload.update(fields)
    return {k: v for k, v in payload.items() if v is not ...}


def from_json_call(models: Models, payload: dict[str, Any]) -> Report:
    return from_call(payload, utc_ms(2016, 1, 23, 12, 0, 5), models.normalize, "c:0:3")


def call_reason(models: Models, payload: dict[str, Any]) -> str:
    with pytest.raises(Invalid) as caught:
        from_json_call(models, payload)
    return caught.value.reason


def test_call_record_fields(models: Models) -> None:
    number = "+1 414 555 0100"
    report = from_json_call(models, call(caller_number=number, text="two cars",
                                         address="N 35TH ST", area="NORTH"))

    assert report.report_id == "json:C-1"
    assert (report.source, report.channel, report.kind) == ("json", "911",
                                                            "collision")
    assert report.event_ms == utc_ms(2016, 1, 23, 12)
    assert (report.lat, report.lon, report.accuracy_m) == (40.1, -75.3, 30.0)
    assert report.details == {"location_method": "handset"}
    assert (report.address, report.area, report.text) == ("N 35TH ST", "NORTH",
                                                          "two cars")
    assert report.reporter == reporter_token(number, models.normalize.reporter_key)
    assert number not in repr(report.to_dict())


def test_call_long_numeric_id_keeps_every_digit(models: Models) -> None:
    report = from_json_call(models, call(call_id=123456789012345678901234567890))

    assert report.report_id == "json:123456789012345678901234567890"


def test_call_id_read_as_float_is_rejected_not_rounded(models: Models) -> None:
    # What a JSON parser gives for an integer past 64 bits: the digits are gone.
    assert call_reason(models, call(call_id=1.2345678901234568e29)) == (
        "wrong_type_call_id")


def test_call_naive_time_is_local_to_its_source(models: Models) -> None:
    payload = call(source="milwaukee_wi", time="2018-05-01T00:10:28",
                   location={"lat": 43.1127987, "lon": -87.9567415})
    report = from_json_call(models, payload)

    assert report.report_id == "milwaukee_wi:C-1"
    assert report.event_ms == utc_ms(2018, 5, 1, 5, 10, 28)


def test_call_with_only_required_fields(models: Models) -> None:
    report = from_json_call(models, call(location=..., type=..., text="fire"))

    assert (report.kind, report.location, report.area) == ("fire", LOCATION_UNKNOWN,
                                                           "UNKNOWN")
    assert (report.reporter, report.details) == ("", {})
    assert "location_missing" in report.flags


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_call_non_finite_numbers(models: Models, bad: float) -> None:
    place = from_json_call(models, call(location={"lat": bad, "lon": -75.3}))
    fix = from_json_call(models, call(location={"lat": 40.1, "lon": -75.3,
                                                "accuracy_m": bad}))

    assert place.location == LOCATION_UNKNOWN
    assert "location_invalid" in place.flags
    assert fix.accuracy_m is None
    assert "accuracy_invalid" in fix.flags
    assert call_reason(models, call(call_id=bad)) == "wrong_type_call_id"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (call(call_id=...), "missing_call_id"),
        (call(call_id=" "), "missing_call_id"),
        (call(call_id=True), "wrong_type_call_id"),
        (call(time=...), "missing_time"),
        (call(time="yesterday"), "bad_time"),
        (call(time=1453550400), "bad_time"),
        (call(time="99999-01-01T00:00:00"), "bad_time"),
        (call(type=..., text=...), "missing_type"),
        (call(type=" ", text="\u200b \ufeff"), "missing_type"),
        (call(location=[40.1, -75.3]), "wrong_type_location"),
        (call(source="atlantis_pd"), "unknown_source"),
        (call(caller_number={"e164": "+1"}), "wrong_type_caller_number"),
    ],
)
def test_call_rejections(models: Models, payload: dict[str, Any],
                         code: str) -> None:
    assert call_reason(models, payload) == code
