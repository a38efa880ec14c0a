"""The dbt project on the real recorded corpus, in a real MariaDB.

One database is built for the whole module (dbt invocations cost seconds each):
the corpus is replayed into landing, ``dbt build`` runs (seeds, models, tests), then
runs again; facts are checked in the marts. The last tests land new fetches
(an overlapping flight board, re-fetched forecasts in other units, an older
forecast landed late) and run an incremental build.

Without ``../shared`` (a clone, CI) the module runs on the repository's ``demo/``: the build is green,
a second build changes nothing, Berlin's populations per revision (the demo holds both Berlin
revisions), an incremental build equals a full rebuild, nothing new recomputes nothing and every
test passes on all history; the tests of facts of OpenWeather/AeroDataBox captures, and the new
fetches crafted from them, skip saying why (``demo/`` cannot hold such responses).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from db_helpers import query as _query
from dbt_helpers import (
    DEMO,
    ON_DEMO,
    SHARED_RECORDINGS,
    assert_incremental_equals_full_rebuild,
    land,
    land_corpus,
    manifest,
    mart_checksums,
    marts_the_recordings_fill,
    needs_shared,
    parse_utc,
)

from extract import db
from extract.loader import LandingRow
from extract.settings import Settings
from transform.dbt_runner import MARTS, run_dbt, summarize

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BERLIN_2022_REVISION = 1113830351
BERLIN_2025_REVISION = 1321491080


def _node(result, name: str):
    return next(r for r in result.result.results if r.node.name == name)


def _checksums(settings: Settings) -> dict[str, tuple[int, str]]:
    return mart_checksums(settings, MARTS)


def _city_id(settings: Settings, name: str) -> int:
    rows = _query(settings, "select city_id from cities where city_name = %s", (name,))
    assert len(rows) == 1, f"{name} not in cities"
    return rows[0][0]


@pytest.fixture(scope="module")
def built(mariadb, tmp_path_factory):
    """The corpus (``../shared/recordings``, else ``demo/``) landed and built twice; the results and mart
    checksums after each build."""
    recordings = DEMO if ON_DEMO else SHARED_RECORDINGS
    settings = Settings()
    db.bootstrap(settings, reset=True)
    land_corpus(settings, recordings)
    paths = tmp_path_factory.mktemp("dbt")
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    first = run_dbt(["build"], settings, **kwargs)
    after_first = _checksums(settings) if first.success else {}
    second = run_dbt(["build"], settings, **kwargs)
    after_second = _checksums(settings) if second.success else {}
    return {
        "settings": settings,
        "recordings": recordings,
        "kwargs": kwargs,
        "first": first,
        "second": second,
        "after_first": after_first,
        "after_second": after_second,
    }


def test_build_is_green_on_the_corpus(built):
    summary = summarize(built["first"], built["settings"])
    assert built["first"].success, summary.format()
    assert summary.tests["pass"] > 50
    assert summary.tests.get("fail", 0) == 0 and summary.tests.get("error", 0) == 0
    # every mart of the manifest is counted, none left out of the summary
    models = json.loads((built["kwargs"]["target_path"] / "manifest.json").read_text())["nodes"].values()
    marts = {n["name"] for n in models if n["resource_type"] == "model" and n["fqn"][1] == "marts"}
    assert set(summary.mart_rows) == marts and len(marts) >= 14
    if not ON_DEMO:  # which marts demo/ fills: tests/test_demo.py
        assert [mart for mart in marts_the_recordings_fill(marts) if not summary.mart_rows[mart]] == []


def test_every_incremental_model_is_indexed_on_its_unique_key(built):
    """delete+insert deletes by the unique key on every build: each incremental table has an index leading with
    it (set by the model, or by its folder in dbt_project.yml from the model's unique_key)."""
    nodes = json.loads((built["kwargs"]["target_path"] / "manifest.json").read_text())["nodes"].values()
    incremental = [n for n in nodes if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"]
    assert len(incremental) >= 20
    indexes = {}
    for schema, table, index, column in _query(
        built["settings"],
        "select table_schema, table_name, index_name, column_name from information_schema.statistics"
        " order by table_schema, table_name, index_name, seq_in_index",
        role="admin",
    ):
        indexes.setdefault((schema, table), {}).setdefault(index, []).append(column.lower())
    unindexed = []
    for node in incremental:
        key = node["config"]["unique_key"]
        key = [key] if isinstance(key, str) else list(key)
        held = indexes.get((node["schema"], node["alias"]), {}).values()
        if not any(columns[: len(key)] == key for columns in held):
            unindexed.append(f"{node['name']} ({', '.join(key)})")
    assert unindexed == [], "incremental models without an index on their unique_key: " + ", ".join(unindexed)


def test_second_build_changes_no_mart_row(built):
    assert built["second"].success
    assert built["after_first"] == built["after_second"]


def test_berlin_population_per_revision(built):
    settings = built["settings"]
    berlin = _city_id(settings, "Berlin")
    rows = _query(
        settings,
        "select wikipedia_revision_id, population_kind, figure_type, population, population_as_of,"
        " population_as_of_precision from city_populations where city_id = %s and population_kind = 'city'",
        (berlin,),
    )
    by_value = {row[3]: row for row in rows}
    assert by_value[3769495][0] == BERLIN_2022_REVISION
    assert by_value[3769495][4:] == (datetime(2020, 12, 31).date(), "day")
    assert by_value[3596999][0] == BERLIN_2025_REVISION
    assert by_value[3596999][2] == "census" and by_value[3596999][4].year == 2022 and by_value[3596999][5] == "year"
    assert by_value[3897145][0] == BERLIN_2025_REVISION
    assert by_value[3897145][2] == "estimate" and by_value[3897145][4:] == (datetime(2024, 12, 1).date(), "month")
    kinds_sql = "select population_kind from city_populations where city_id = %s"
    kinds = {row[0] for row in _query(settings, kinds_sql, (berlin,))}
    assert {"city", "urban"} <= kinds
    # the headline figure: the latest revision's most recent "city" figure
    (city,) = _query(
        settings,
        "select population, population_as_of, population_as_of_precision, wikipedia_revision_id"
        " from cities where city_id = %s",
        (berlin,),
    )
    assert city == (3897145, datetime(2024, 12, 1).date(), "month", BERLIN_2025_REVISION)


def test_every_city_key_is_in_cities(built):
    # cities takes the keys of the OpenWeather, AeroDataBox and Wikipedia fetches, not Open-Meteo's
    needs_shared("; demo/'s one other key, Open-Meteo's Veneto, is no key of cities")
    settings = built["settings"]
    names = {e["key"]["city"] for e in manifest(built["recordings"]) if "city" in e["key"]}
    found = {row[0] for row in _query(settings, "select city_name from cities")}
    assert names <= found
    ids = _query(settings, "select count(distinct city_id), count(*) from cities")
    assert ids[0][0] == ids[0][1]


def test_one_row_per_city_and_forecast_slot_in_celsius(built):
    needs_shared()
    settings = built["settings"]
    slots = set()
    for entry in manifest(built["recordings"]):
        if entry["source"] == "openweather":
            body = json.loads((built["recordings"] / entry["body"]).read_text())
            slots |= {(entry["key"]["city"], item["dt"]) for item in body["list"]}
    (count, distinct, low, high) = _query(
        settings,
        "select count(*), count(distinct city_id, forecast_at_utc), min(temperature_c), max(temperature_c)"
        " from weather_forecasts",
    )[0]
    assert count == distinct == len(slots)
    assert Decimal(-60) < low < high < Decimal(60)
    # a slot checked against its recording (metric: °C as served)
    entry = next(e for e in manifest(built["recordings"]) if e["body"] == "openweather/berlin_2024-06-18.json")
    first = json.loads((built["recordings"] / entry["body"]).read_text())["list"][0]
    (row,) = _query(
        settings,
        "select temperature_c, humidity_pct, rain_3h_mm, weather_condition from weather_forecasts"
        " where city_id = %s and forecast_at_utc = %s",
        (_city_id(settings, "Berlin"), datetime.fromtimestamp(first["dt"], UTC).replace(tzinfo=None)),
    )
    assert float(row[0]) == pytest.approx(first["main"]["temp"], abs=0.01)
    assert row[1] == first["main"]["humidity"]
    assert float(row[2]) == first.get("rain", {}).get("3h", 0)
    assert row[3] == first["weather"][0]["main"]


def _board_flights(recordings) -> set[tuple[str, str, str]]:
    keys = set()
    for entry in manifest(recordings):
        if entry["source"] == "aerodatabox_flights" and entry["status"] == 200:
            body = json.loads((recordings / entry["body"]).read_text())
            for flight in body.get("arrivals", []):
                arrival = flight["arrival"]
                utc = arrival.get("scheduledTime", {}).get("utc") or arrival.get("scheduledTimeUtc")
                keys.add((entry["key"]["airport_icao"], flight["number"], utc))
    return keys


def test_flights_once_each_with_consistent_utc_and_local_times(built):
    needs_shared()
    settings = built["settings"]
    expected = _board_flights(built["recordings"])
    rows = _query(
        settings,
        "select airport_icao, flight_number, scheduled_arrival_utc, scheduled_arrival_local,"
        " scheduled_arrival_utc_offset_min from flight_arrivals",
    )
    assert len(rows) == len(expected)
    assert {(a, n, u.strftime("%Y-%m-%d %H:%MZ")) for a, n, u, _, _ in rows} == expected
    for _, _, utc, local, offset in rows:
        assert local - utc == timedelta(minutes=offset)
        assert offset in (60, 120)  # Berlin: CET or CEST
    # codeshares are their own rows, never counted as extra arrivals in the feature table
    assert _query(settings, "select count(*) from flight_arrivals where codeshare_status = 'IsCodeshared'")[0][0] > 0
    counted = _query(settings, "select coalesce(sum(scheduled_arrivals), 0) from city_hourly_conditions")[0][0]
    assert counted > 0


def test_hourly_conditions_spread_three_hour_slots(built):
    needs_shared()
    settings = built["settings"]
    (hours, slots) = _query(
        settings,
        "select (select count(*) from city_hourly_conditions), (select count(*) from weather_forecasts)",
    )[0]
    assert hours == 3 * slots  # the corpus' slots never overlap: three hours each
    rows = _query(
        settings,
        "select hour_utc, forecast_at_utc from city_hourly_conditions where city_id = %s order by hour_utc limit 4",
        (_city_id(settings, "Berlin"),),
    )
    assert [r[0] - r[1] for r in rows[:3]] == [timedelta(hours=h) for h in range(3)]
    assert rows[3][0] == rows[3][1]
    # every hour carries its city's name beside its key
    named = _query(
        settings,
        "select count(*), sum(h.city_name = c.city_name) from city_hourly_conditions as h"
        " inner join cities as c on h.city_id = c.city_id",
    )[0]
    assert named[0] == hours and named[1] == hours


# -- new fetches after the first builds: incremental behaviour ------------------------------------------


def _entry(recordings, body: str) -> dict:
    return next(e for e in manifest(recordings) if e.get("body") == body)


def _to_units(body: dict, units: str) -> dict:
    """The metric ``body`` as OpenWeather would serve it in ``units``."""
    out = copy.deepcopy(body)
    for item in out["list"]:
        for key in ("temp", "feels_like", "temp_min", "temp_max"):
            celsius = item["main"][key]
            item["main"][key] = round(celsius + 273.15, 2) if units == "standard" else round(celsius * 9 / 5 + 32, 2)
        if units == "imperial":
            for key in ("speed", "gust"):
                if key in item["wind"]:
                    item["wind"][key] = round(item["wind"][key] / 0.44704, 2)
    return out


@pytest.fixture(scope="module")
def after_new_fetches(built):
    """New landing rows, then one incremental build with no lookback; returns what was landed."""
    needs_shared()
    settings, recordings = built["settings"], built["recordings"]
    rows = []
    # 1. Berlin re-fetched an hour later in imperial units, one slot 1 °C warmer
    berlin = _entry(recordings, "openweather/berlin_2024-06-18.json")
    metric = json.loads((recordings / berlin["body"]).read_text())
    warmer = copy.deepcopy(metric)
    warmer["list"][5]["main"]["temp"] += 1.0
    rows.append(
        LandingRow(
            "openweather", berlin["key"], {**berlin["request"]["params"], "units": "imperial"},
            parse_utc(berlin["fetched_at"]) + timedelta(hours=1), 200, _to_units(warmer, "imperial"),
        )
    )  # fmt: skip
    # 2. Hamburg re-fetched later in kelvin (standard)
    hamburg = _entry(recordings, "openweather/hamburg_2024-06-18.json")
    hamburg_body = json.loads((recordings / hamburg["body"]).read_text())
    rows.append(
        LandingRow(
            "openweather", hamburg["key"], {**hamburg["request"]["params"], "units": "standard"},
            parse_utc(hamburg["fetched_at"]) + timedelta(hours=2), 200, _to_units(hamburg_body, "standard"),
        )
    )  # fmt: skip
    # 3. an OLDER Berlin forecast that lands late: must not replace the newer one
    stale = copy.deepcopy(metric)
    for item in stale["list"]:
        item["main"]["temp"] = -5.0
    rows.append(
        LandingRow(
            "openweather", berlin["key"], berlin["request"]["params"],
            parse_utc(berlin["fetched_at"]) - timedelta(hours=6), 200, stale,
        )
    )  # fmt: skip
    # 4. EDDB board for an overlapping window, fetched later: the evening of 2024-05-08 again
    board = _entry(recordings, "aerodatabox_flights/EDDB_2024-05-08T1200.json")
    body = json.loads((recordings / board["body"]).read_text())
    evening = [f for f in body["arrivals"] if f["arrival"]["scheduledTime"]["local"] >= "2024-05-08 18:00"]
    changed = next(f for f in evening if f.get("codeshareStatus") == "IsOperator")
    changed = copy.deepcopy(changed)
    evening = [changed if f["number"] == changed["number"] else f for f in evening]
    changed["status"] = "Delayed"
    overlap = {"arrivals": evening, "departures": []}
    key = {"airport_icao": "EDDB", "from_local": "2024-05-08T18:00", "to_local": "2024-05-09T06:00"}
    rows.append(
        LandingRow(
            "aerodatabox_flights", key, board["request"]["params"],
            parse_utc(board["fetched_at"]) + timedelta(hours=3), 200, overlap,
        )
    )  # fmt: skip
    landed = land(settings, rows)
    assert landed == len(rows)
    result = run_dbt(["build", "--vars", "{incremental_lookback_hours: 0}"], settings, **built["kwargs"])
    return {
        "result": result,
        "berlin": berlin,
        "metric": metric,
        "warmer": warmer,
        "hamburg": hamburg,
        "hamburg_body": hamburg_body,
        "evening": evening,
        "changed": changed,
        "overlap_fetched_at": parse_utc(board["fetched_at"]) + timedelta(hours=3),
    }


def test_incremental_build_processes_only_new_rows(built, after_new_fetches):
    result = after_new_fetches["result"]
    assert result.success, summarize(result).format()
    flights = _node(result, "flight_arrivals").adapter_response.get("rows_affected")
    assert flights == len(after_new_fetches["evening"])
    forecasts = _node(result, "weather_forecasts").adapter_response.get("rows_affected")
    assert forecasts == 2 * 40  # Berlin (imperial) and Hamburg (kelvin); the stale Berlin rows lose


def test_overlapping_board_counts_each_flight_once_latest_fetch_wins(built, after_new_fetches):
    settings = built["settings"]
    assert _query(settings, "select count(*) from flight_arrivals")[0][0] == len(_board_flights(built["recordings"]))
    changed = after_new_fetches["changed"]
    (row,) = _query(
        settings,
        "select status, fetched_at_utc from flight_arrivals where airport_icao = 'EDDB' and flight_number = %s"
        " and scheduled_arrival_utc = %s",
        (changed["number"], datetime.strptime(changed["arrival"]["scheduledTime"]["utc"], "%Y-%m-%d %H:%MZ")),
    )
    assert row == ("Delayed", after_new_fetches["overlap_fetched_at"].replace(tzinfo=None))


def test_refetched_forecasts_in_other_units_replace_older_ones(built, after_new_fetches):
    settings = built["settings"]
    berlin_id, hamburg_id = _city_id(settings, "Berlin"), _city_id(settings, "Hamburg")
    metric, warmer = after_new_fetches["metric"], after_new_fetches["warmer"]
    rows = _query(
        settings,
        "select forecast_at_utc, temperature_c, wind_speed_m_s, units_requested from weather_forecasts"
        " where city_id = %s and fetched_at_utc = %s order by forecast_at_utc",
        (berlin_id, (parse_utc(after_new_fetches["berlin"]["fetched_at"]) + timedelta(hours=1)).replace(tzinfo=None)),
    )
    assert len(rows) == 40 and {r[3] for r in rows} == {"imperial"}
    for (_, temp, wind, _), item in zip(rows, warmer["list"], strict=True):
        assert float(temp) == pytest.approx(item["main"]["temp"], abs=0.02)
        assert float(wind) == pytest.approx(item["wind"]["speed"], abs=0.02)
    assert float(rows[5][1]) == pytest.approx(metric["list"][5]["main"]["temp"] + 1.0, abs=0.02)
    coldest = _query(settings, "select min(temperature_c) from weather_forecasts where city_id = %s", (berlin_id,))
    assert coldest[0][0] > 0  # the stale -5 °C forecast landed late but did not win
    kelvin = _query(
        settings,
        "select temperature_c, units_requested from weather_forecasts where city_id = %s order by forecast_at_utc",
        (hamburg_id,),
    )
    assert {r[1] for r in kelvin} == {"standard"}
    expected = [item["main"]["temp"] for item in after_new_fetches["hamburg_body"]["list"]]
    assert [float(r[0]) for r in kelvin] == pytest.approx(expected, abs=0.02)


# -- landing rows the staging views drop or that carry odd values ---------------------------------------


@pytest.fixture(scope="module")
def after_odd_fetches(built, after_new_fetches):
    """Rows staging drops (an empty airport search, a 404 forecast) and a flight with 400-character
    texts, for cities and a board not seen before; then one more incremental build."""
    needs_shared()
    settings, recordings = built["settings"], built["recordings"]
    board = _entry(recordings, "aerodatabox_flights/EDDB_2024-05-08T1200.json")
    body = json.loads((recordings / board["body"]).read_text())
    flight = copy.deepcopy(next(f for f in body["arrivals"] if f.get("codeshareStatus") == "IsOperator"))
    flight["number"] = "ZZ 4000"
    long_texts = {
        "status": "Delayed " + "s" * 392,
        "aircraft": "Airbus A320 " + "m" * 388,
        "origin": "Aeropuerto " + "o" * 389,
    }
    flight["status"] = long_texts["status"]
    flight.setdefault("aircraft", {})["model"] = long_texts["aircraft"]
    flight["departure"]["airport"]["name"] = long_texts["origin"]
    rows = [
        LandingRow(
            "aerodatabox_airports", {"city": "Emptyville"}, {"lat": 10.0, "lon": 10.0},
            datetime(2024, 6, 1, tzinfo=UTC), 200, {"items": []},
        ),
        LandingRow(
            "openweather", {"city": "Nowhere Town"}, {"lat": 0.0, "lon": 0.0, "units": "metric"},
            datetime(2024, 6, 1, tzinfo=UTC), 404, {"cod": "404", "message": "city not found"},
        ),
        LandingRow(
            "aerodatabox_flights",
            {"airport_icao": "EDDB", "from_local": "2024-05-08T12:00", "to_local": "2024-05-08T23:59"},
            board["request"]["params"], parse_utc(board["fetched_at"]) + timedelta(hours=4), 200,
            {"arrivals": [flight], "departures": []},
        ),
    ]  # fmt: skip
    assert land(settings, rows) == len(rows)
    result = run_dbt(["build", "--vars", "{incremental_lookback_hours: 0}"], settings, **built["kwargs"])
    return {"result": result, "flight": flight, "long_texts": long_texts}


def test_cities_keep_keys_whose_rows_staging_drops(built, after_odd_fetches):
    result = after_odd_fetches["result"]
    assert result.success, summarize(result).format()
    assert _node(result, "assert_every_landed_city_in_cities").status == "pass"
    rows = _query(
        built["settings"],
        "select city_name, is_tracked from cities where city_name in ('Emptyville', 'Nowhere Town') order by 1",
    )
    assert rows == [("Emptyville", 0), ("Nowhere Town", 0)]


def test_long_texts_reach_the_marts_whole(built, after_odd_fetches):
    result = after_odd_fetches["result"]
    assert result.success, summarize(result).format()
    assert summarize(result).tests.get("error", 0) == 0
    flight, texts = after_odd_fetches["flight"], after_odd_fetches["long_texts"]
    (row,) = _query(
        built["settings"],
        "select status, aircraft_model, origin_airport_name from flight_arrivals"
        " where airport_icao = 'EDDB' and flight_number = %s",
        (flight["number"],),
    )
    assert row == (texts["status"], texts["aircraft"], texts["origin"])


def _history(request) -> None:
    """On ../shared: the new and odd fetches landed and built first (their fixtures); on demo/ nothing more."""
    if not ON_DEMO:
        request.getfixturevalue("after_odd_fetches")


def _marts_query(settings: Settings, mart: str, order: str) -> str:
    """Every column of ``mart`` but ``loaded_at`` (a load time), rows in ``order``."""
    columns = _query(
        settings,
        "select column_name from information_schema.columns where table_schema = %s"
        " and table_name = %s and column_name <> 'loaded_at' order by column_name",
        (settings.marts_database, mart),
    )
    return f"select {', '.join(f'`{c}`' for (c,) in columns)} from {mart} order by {order}"


def test_incremental_marts_of_the_demo_equal_a_full_rebuild(built):
    """demo/'s incremental marts (the forecast's hours, the docked trips): nothing new writes nothing, and
    a full rebuild gives the rows the incremental builds had."""
    if not ON_DEMO:
        pytest.skip("on ../shared: test_incremental_hourly_conditions_equal_a_full_rebuild (and test_gbfs_docked)")
    settings, kwargs = built["settings"], built["kwargs"]
    hours = _marts_query(settings, "weather_hourly_forecasts", "city_id, model, forecast_hour_utc")
    assert _query(settings, f"select count(*) from ({hours}) as t")[0][0] > 0
    assert_incremental_equals_full_rebuild(settings, kwargs, ["weather_hourly_forecasts"], hours)
    trips = _marts_query(settings, "gbfs_trip_events", "system_id, hour_utc, inference_method, cell_row, cell_col")
    assert _query(settings, f"select count(*) from ({trips}) as t")[0][0] > 0
    models = ["int_gbfs__station_snapshots", "int_gbfs__station_changes", "gbfs_trip_events"]
    assert_incremental_equals_full_rebuild(settings, kwargs, models, trips)


def test_incremental_hourly_conditions_equal_a_full_rebuild(built, after_new_fetches, after_odd_fetches):
    settings = built["settings"]
    total = _query(settings, "select count(*) from city_hourly_conditions")[0][0]
    recomputed = _node(after_new_fetches["result"], "city_hourly_conditions").adapter_response.get("rows_affected")
    assert 0 < recomputed < total  # only the hours around Berlin's and Hamburg's new rows
    columns = [
        r[0]
        for r in _query(
            settings,
            "select column_name from information_schema.columns where table_schema = %s"
            " and table_name = 'city_hourly_conditions' and column_name <> 'loaded_at' order by column_name",
            (settings.marts_database,),
        )
    ]
    listed = ", ".join(f"`{c}`" for c in columns)
    select = f"select {listed} from city_hourly_conditions order by city_id, hour_utc"
    incremental = _query(settings, select)
    result = run_dbt(["run", "--full-refresh", "-s", "city_hourly_conditions"], settings, **built["kwargs"])
    assert result.success, summarize(result).format()
    assert _query(settings, select) == incremental


def test_a_run_with_nothing_new_recomputes_nothing(built, request):
    """Incremental models whose inputs got no row since their last run write no row."""
    _history(request)
    incremental = ["city_hourly_conditions", "int_cities__fetches", "weather_forecasts", "flight_arrivals"]
    if ON_DEMO:  # and those demo/ fills
        incremental += ["weather_hourly_forecasts", "gbfs_trip_events"]
    result = run_dbt(
        ["run", "-s", *incremental, "--vars", "{incremental_lookback_hours: 0}"], built["settings"], **built["kwargs"]
    )
    assert result.success, summarize(result).format()
    for name in incremental:
        assert _node(result, name).adapter_response.get("rows_affected") == 0, name


def test_every_test_passes_on_all_history(built, request):
    """With test_window_hours 0 the windowed tests (staging, incremental marts, singular) read all history."""
    _history(request)
    settings, kwargs = built["settings"], built["kwargs"]
    compiled = Path(kwargs["target_path"]) / "compiled" / "gans" / "tests"
    hourly = compiled / "assert_hourly_arrivals_match_flight_arrivals.sql"
    windowed = run_dbt(["test", "-s", "assert_hourly_arrivals_match_flight_arrivals"], settings, **kwargs)
    assert windowed.success, summarize(windowed).format()
    first_hour = _query(
        settings,
        "select min(hour_utc) from city_hourly_conditions where loaded_at >= utc_timestamp() - interval 30 hour",
    )[0][0]
    if first_hour is not None:  # demo/ fills no city_hourly_conditions: no window to find
        bound = re.search(r"hourly\.hour_utc >= cast\('([^']+)' as datetime\)", hourly.read_text()).group(1)
        # found in the window before the query ran, not the all-history bound
        assert datetime(2000, 1, 1) < datetime.fromisoformat(bound) <= first_hour
    result = run_dbt(["test", "--vars", "{test_window_hours: 0}"], settings, **kwargs)
    assert result.success, summarize(result).format()
    assert "hourly.hour_utc >= cast('1000-01-01 00:00:00' as datetime)" in hourly.read_text()
    assert summarize(result).tests.get("pass", 0) > 50


def test_gbfs_tests_read_their_own_window(built, tmp_path):
    """A node's meta.test_window_hours sets its tests' window (the GBFS models and gbfs_feeds: 3 h, built every
    15 minutes); the others keep var test_window_hours (30 h); 0 still reads all history everywhere."""
    settings = built["settings"]
    kwargs = {**built["kwargs"], "target_path": tmp_path / "target"}  # only what this test compiles
    compiled = tmp_path / "target" / "compiled" / "gans" / "models" / "staging"
    select = ["-s", "stg_gbfs__vehicles", "stg_openweather__forecasts"]

    def windows() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {"gbfs": set(), "openweather": set()}
        for path in compiled.glob("*/*.sql"):
            sql = path.read_text()
            for name, relation in (("gbfs", "`stg_gbfs__vehicles`"), ("openweather", "`stg_openweather__forecasts`")):
                if relation in sql:
                    found[name] |= set(re.findall(r"timestampadd\(hour, -(\d+), utc_timestamp\(\)\)", sql)) or {"all"}
        return found

    assert run_dbt(["compile", *select], settings, **kwargs).success
    assert windows() == {"gbfs": {"3"}, "openweather": {"30"}}
    assert run_dbt(["compile", *select, "--vars", "{test_window_hours: 0}"], settings, **kwargs).success
    assert windows() == {"gbfs": {"all"}, "openweather": {"all"}}
