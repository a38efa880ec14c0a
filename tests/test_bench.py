"""Smoke tests of the benchmark machinery (bench/): workloads, LOAD DATA files, the --quick harness.

No timing assertions: these check that the workloads are the real recordings moved
consistently in time, that a LOAD DATA file stores exactly what the loader stores,
and that the harness writes its JSON with every required key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bench import run as bench_run
from bench import workloads as wl
from extract import db
from extract.loader import Loader
from extract.runlog import RunLog

pytestmark = pytest.mark.recordings

REQUIRED_KEYS = {
    "load_rows_per_s",
    "load_data_infile_rows_per_s",
    "to_sql_rows_per_s",
    "e2e_replay_s",
    "dbt_startup_s",
    "incremental_build_s",
    "peak_rss_mb",
    "lambda_transform_first_s",
    "lambda_transform_warm_s",
    "cpu_count",
}


@pytest.fixture(scope="module")
def templates(recordings):
    return wl.Templates(recordings)


def test_synthetic_cities_repeat_real_ones_with_shifted_coordinates(templates):
    cities = templates.cities(40)
    assert len({c.name for c in cities}) == 40
    assert len({c.airport_icao for c in cities}) == 40
    first, copy = cities[0], cities[16]
    assert copy.template == first.template and copy.name == f"{first.name} 2"
    assert copy.latitude == pytest.approx(first.latitude + 0.05)


def test_forecast_shifted_in_time_keeps_slots_consistent(templates):
    city = templates.cities(17)[16]
    at = templates.cycle_start(30, 3)
    resp = templates.forecast(city, at, slots=8)
    assert resp.fetched_at == templates.forecast_fetched_at + timedelta(days=30, hours=9)
    assert resp.key == {"city": city.name} and resp.payload["city"]["name"] == city.name
    slots = resp.payload["list"]
    assert len(slots) == 8 == resp.payload["cnt"]
    for slot in slots:
        assert datetime.fromtimestamp(slot["dt"], UTC).strftime("%Y-%m-%d %H:%M:%S") == slot["dt_txt"]
        assert slot["dt"] % (3 * 3600) == 0
    original = templates.forecasts[city.template][0]["list"][0]
    assert slots[0]["dt"] - original["dt"] == int(timedelta(days=30, hours=9).total_seconds())
    assert slots[0]["main"] == original["main"]


def test_flight_board_shifted_by_whole_days(templates):
    resp = templates.flight_board("Z007", 10, max_flights=3)
    assert resp.key["airport_icao"] == "Z007"
    assert resp.key["from_local"] == "2024-05-18T12:00"
    arrival = resp.payload["arrivals"][0]["arrival"]
    original = templates.flights["arrivals"][0]["arrival"]
    assert original["scheduledTime"]["utc"] == "2024-05-08 09:10Z"
    assert arrival["scheduledTime"] == {"utc": "2024-05-18 09:10Z", "local": "2024-05-18 11:10+02:00"}
    assert len(resp.payload["arrivals"]) == 3


def test_load_data_file_stores_what_the_loader_stores(settings, templates, tmp_path):
    cities = templates.cities(3)
    responses = list(templates.operation(cities, [400], cycles_per_day=2, flight_airports=1, max_flights=4))
    rows = [r.landing_row() for r in responses if r.source == "openweather"]
    # a payload with every character the TSV escaping must survive
    tricky = wl.Response("openweather", {"city": "Quote's \\ \t tab\nnew"}, {}, datetime.now(UTC), {"a": "\\\t\n\r\0é"})
    rows.append(tricky.landing_row())
    conn = db.connect(settings, "loader", local_infile=True)
    try:
        run = RunLog(conn).start("openweather", "bench-test")
        Loader(conn).land(run.id, rows)
        with conn.cursor() as cur:
            cur.execute(
                "select request_key, payload, payload_sha256, fetched_at from openweather_forecasts order by id"
            )
            by_loader = cur.fetchall()
            conn.commit()
            admin = db.connect(settings, "admin", autocommit=True)
            admin.cursor().execute("delete from openweather_forecasts")
            admin.close()
            path = tmp_path / "rows.tsv"
            count, _ = wl.write_tsv(path, rows, run.id)
            assert cur.execute(wl.load_data_sql(path, "openweather_forecasts")) == count == len(rows)
            conn.commit()
            cur.execute(
                "select request_key, payload, payload_sha256, fetched_at from openweather_forecasts order by id"
            )
            by_infile = cur.fetchall()
    finally:
        conn.close()
    assert len(by_loader) == len(rows)
    assert [(json.loads(k), json.loads(p), h, f) for k, p, h, f in by_infile] == [
        (json.loads(k), json.loads(p), h, f) for k, p, h, f in by_loader
    ]


def test_quick_harness_writes_results(tmp_path, recordings, mariadb):
    out = tmp_path / "results"
    status = bench_run.main(
        ["--quick", "--only", "load", "--recordings", str(recordings), "--work", str(tmp_path / "work"),
         "--out", str(out)]
    )  # fmt: skip
    assert status == 0
    results = json.loads((out / "latest.json").read_text())
    assert REQUIRED_KEYS <= set(results)
    assert "load" not in results["not_measured"]
    assert results["load_rows_per_s"] > 0 and results["to_sql_rows_per_s"] > 0
    assert results["load_detail"]["to_sql_flat_rows"] > results["load_detail"]["responses"]
    assert set(results["peak_rss_mb"]) == {"extract", "dbt"}
    assert results["cpu_count"] >= 1
    table = (out / "latest.md").read_text()
    assert "| Loader throughput |" in table and "LOAD DATA" in table
