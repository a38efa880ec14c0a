"""Nothing landed is lost silently: reconciliation, rejects and isolation, on real captures.

One database for the module: ``../shared/recordings`` and ``../shared/recordings-extra``
replayed into the same landing tables, ``dbt build``; then crafted bad records (values
no column can hold, a flight of a shape no parser knows, an unparseable time) landed
beside them and an incremental ``dbt build``. Facts about the captures are read from
the capture files here, not written down.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from db_helpers import query as _query
from dbt_helpers import land, land_corpus, manifest, marts_the_recordings_fill, row_from_entry

from extract import db
from extract.runner import replay
from extract.settings import Settings
from transform.dbt_runner import MARTS, RECONCILIATION, run_dbt, summarize

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

EXTRA = Path(__file__).resolve().parents[1].parent / "shared" / "recordings-extra"


@pytest.fixture(scope="module")
def extra() -> Path:
    """``../shared/recordings-extra``; tests using it skip when the folder is absent."""
    if not (EXTRA / "manifest.jsonl").is_file():
        pytest.skip(f"extra recordings not found at {EXTRA} (they live in ../shared beside the project)")
    return EXTRA


def _entry(recordings: Path, body: str) -> dict:
    return next(e for e in manifest(recordings) if e["body"] == body)


def _body(recordings: Path, body: str) -> dict:
    return json.loads((recordings / body).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def both(mariadb, recordings, extra, tmp_path_factory):
    """Both corpora landed into one database and built once."""
    settings = Settings()
    db.bootstrap(settings, reset=True)
    land_corpus(settings, recordings)
    # the extra corpus holds a recorded RapidAPI quota error (429): an extract error, not a landing row
    replayed = replay(settings, extra)
    assert [r.source for r in replayed.results if r.errors] == ["aerodatabox_airports"]
    paths = tmp_path_factory.mktemp("dbt_reconcile")
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    result = run_dbt(["build"], settings, **kwargs)
    return {"settings": settings, "kwargs": kwargs, "result": result, "extra": extra}


def test_both_corpora_build_green_and_reconcile(both):
    summary = summarize(both["result"], both["settings"])
    assert both["result"].success, summary.format()
    assert summary.tests.get("fail", 0) == 0 and summary.tests.get("error", 0) == 0
    assert [m for m in marts_the_recordings_fill(summary.mart_rows) if not summary.mart_rows[m]] == []
    mismatched = _query(
        both["settings"],
        f"select source_name, landing_id from {RECONCILIATION}"
        " where records_in_payload <> records_staged + records_rejected",
    )
    assert mismatched == []
    assert set(summary.source_records) == {"openweather", "aerodatabox_flights", "aerodatabox_airports", "wikipedia"}
    for records, staged, rejected in summary.source_records.values():
        assert records == staged + rejected and staged > 0
    assert "records per source" in summary.format()


def test_board_with_both_arrays_reconciles_to_the_capture(both):
    extra = both["extra"]
    name = "aerodatabox_flights/EDDB_2024-03-12T0830.json"
    body = _body(extra, name)
    entry = _entry(extra, name)
    fetched = datetime.fromisoformat(entry["fetched_at"].replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)
    (row,) = _query(
        both["settings"],
        f"select records_in_payload, records_staged, records_rejected from {RECONCILIATION} r"
        " where r.source_name = 'aerodatabox_flights' and r.landing_id in (select f.landing_id"
        " from gans_staging.stg_aerodatabox__flights f where f.fetched_at_utc = %s and f.airport_icao = 'EDDB')",
        (fetched,),
    )
    assert row == (len(body["arrivals"]) + len(body["departures"]), len(body["arrivals"]) + len(body["departures"]), 0)


def test_movement_flights_reach_flight_arrivals_with_their_origin(both):
    extra = both["extra"]
    body = _body(extra, "aerodatabox_flights/EDDP_2023-12-08T0800.json")
    expected = {
        (f["number"], f["movement"]["scheduledTime"]["utc"], f["movement"]["airport"].get("icao"))
        for f in body["arrivals"]
    }
    rows = _query(
        both["settings"],
        "select flight_number, scheduled_arrival_utc, origin_airport_icao from flight_arrivals"
        " where airport_icao = 'EDDP'",
    )
    assert {(n, u.strftime("%Y-%m-%d %H:%MZ"), o) for n, u, o in rows} == expected


def test_flat_movement_hybrid_is_staged(both):
    extra = both["extra"]
    body = _body(extra, "aerodatabox_flights/EHAM_2023-03-28T2000.json")
    expected = {(f["number"], f["movement"]["scheduledTimeUtc"]) for f in body["arrivals"]}
    rows = _query(
        both["settings"],
        "select flight_number, scheduled_arrival_utc from flight_arrivals"
        " where airport_icao = 'EHAM' and scheduled_arrival_utc < '2024-01-01'",
    )
    assert {(n, u.strftime("%Y-%m-%d %H:%MZ")) for n, u in rows} == expected


def test_unrecognised_units_are_applied_as_standard(both):
    extra = both["extra"]
    name = "openweather/berlin_2022-08-10.json"
    entry = _entry(extra, name)
    first = _body(extra, name)["list"][0]
    (row,) = _query(
        both["settings"],
        "select units_requested, units_applied, temperature_c from weather_forecasts w"
        " join cities c on c.city_id = w.city_id where c.city_name = 'Berlin' and forecast_at_utc = %s",
        (datetime.fromtimestamp(first["dt"], UTC).replace(tzinfo=None),),
    )
    assert row[0] == entry["request"]["params"]["units"] and row[1] == "standard"
    assert float(row[2]) == pytest.approx(first["main"]["temp"] - 273.15, abs=0.01)


@pytest.fixture(scope="module")
def after_bad(both, recordings):
    """Bad records landed beside the corpora (one new fetch each), then an incremental build."""
    settings = both["settings"]
    before = dict(_query(settings, "select city_id, count(*) from weather_forecasts group by city_id"))
    fetched = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    forecast_entry = _entry(recordings, "openweather/berlin_2024-06-18.json")
    forecast = row_from_entry(recordings, forecast_entry)
    payload = copy.deepcopy(forecast.payload)
    payload["list"][0]["dt"] = -(2**62)
    payload["list"][1]["main"]["temp"] = 1e10
    payload["list"][2]["main"]["humidity"] = 1e20
    payload["list"][3]["pop"] = 5
    payload["list"][4]["wind"]["speed"] = "fast"
    forecast = dataclasses.replace(forecast, request_key={"city": "Rejectburg"}, fetched_at=fetched, payload=payload)
    board_entry = next(e for e in manifest(recordings) if e["source"] == "aerodatabox_flights" and e["status"] == 200)
    board = row_from_entry(recordings, board_entry)
    flights = copy.deepcopy(board.payload)
    unknown = {"number": "ZZ 1", "legs": [{"from": "EDDF"}]}  # a shape no parser knows
    flights["arrivals"].append(unknown)
    broken = copy.deepcopy(flights["arrivals"][0])
    for side in ("arrival",):
        leg = broken[side]
        leg.pop("scheduledTimeUtc", None)
        leg["scheduledTime"] = {"utc": "not-a-date", "local": "not-a-date"}
    broken["number"] = "ZZ 2"
    flights["arrivals"].append(broken)
    board = dataclasses.replace(
        board, request_key={**board.request_key, "airport_icao": "EDDB"}, fetched_at=fetched, payload=flights
    )
    airports_entry = next(e for e in manifest(recordings) if e["source"] == "aerodatabox_airports")
    airports = row_from_entry(recordings, airports_entry)
    items = copy.deepcopy(airports.payload)
    items["items"][0]["location"]["lat"] = 999
    airports = dataclasses.replace(airports, request_key={"city": "Rejectburg"}, fetched_at=fetched, payload=items)
    assert land(settings, [forecast, board, airports]) == 3
    result = run_dbt(["build"], settings, **both["kwargs"])
    return {
        "settings": settings,
        "result": result,
        "before": before,
        "forecast": forecast,
        "board": flights,
        "fetched": fetched.replace(tzinfo=None),
    }


def test_bad_records_are_rejected_with_path_and_reason(after_bad):
    settings = after_bad["settings"]
    rejects = _query(
        settings,
        "select source_name, record_path, reject_reason from landing_rejects"
        " where fetched_at_utc = %s order by source_name, record_path",
        (after_bad["fetched"],),
    )
    by_path = {(s, p): r for s, p, r in rejects}
    assert "not a unix time" in by_path[("openweather", "$.list[0]")]
    assert "$.main.temp out of range" in by_path[("openweather", "$.list[1]")]
    assert "$.main.humidity out of range" in by_path[("openweather", "$.list[2]")]
    assert "$.pop out of range" in by_path[("openweather", "$.list[3]")]
    assert "$.wind.speed not a number" in by_path[("openweather", "$.list[4]")]
    n = len(after_bad["board"]["arrivals"])
    assert "unknown shape" in by_path[("aerodatabox_flights", f"$.arrivals[{n - 2}]")]
    assert "not a valid time" in by_path[("aerodatabox_flights", f"$.arrivals[{n - 1}]")]
    assert "$.location.lat out of range" in by_path[("aerodatabox_airports", "$.items[0]")]
    # counted, not dropped: every record of the new landing rows is staged or rejected
    rows = _query(
        settings,
        f"select source_name, records_in_payload, records_staged, records_rejected from {RECONCILIATION}"
        " where fetched_at_utc = %s",
        (after_bad["fetched"],),
    )
    assert len(rows) == 3
    for _, records, staged, rejected in rows:
        assert records == staged + rejected and rejected >= 1


def test_one_bad_response_leaves_every_mart_built_and_current(after_bad):
    settings = after_bad["settings"]
    result = after_bad["result"]
    summary = summarize(result, settings)
    assert result.success, summary.format()
    statuses = {r.node.name: str(getattr(r.status, "value", r.status)) for r in result.result.results}
    assert not [name for name, status in statuses.items() if status in ("skipped", "error", "fail")]
    assert [m for m in marts_the_recordings_fill(summary.mart_rows) if not summary.mart_rows[m]] == []
    # every other city keeps every slot; the bad city has every good slot of its response
    after = dict(_query(settings, "select city_id, count(*) from weather_forecasts group by city_id"))
    for city_id, slots in after_bad["before"].items():
        assert after[city_id] >= slots
    (bad_city,) = _query(settings, "select city_id from cities where city_name = 'Rejectburg'")[0]
    assert after[bad_city] == len(after_bad["forecast"].payload["list"]) - 5
    hours = _query(settings, "select count(*) from city_hourly_conditions where city_id = %s", (bad_city,))[0][0]
    assert hours > 0
    for mart in marts_the_recordings_fill(MARTS):
        assert _query(settings, f"select count(*) from {mart}")[0][0] > 0
