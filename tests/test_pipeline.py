"""Pipeline against the real MariaDB: replay of the shared corpus, error paths, spooling, live runs.

Live runs point the clients at a local pytest-httpserver; nothing is mocked on the database side.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from db_helpers import query, scalar
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from extract.recording import Recorder, read_manifest
from extract.response import Response
from extract.runner import extract, replay
from extract.sources import REGISTRY, SOURCES
from extract.sources.open_meteo import HOURLY

KEY_OW = "ow-secret-key-0123456789"
KEY_ADB = "adb-secret-key-9876543210"


def _count(settings, sql: str, args=None) -> int:
    return scalar(settings, sql, args, role="admin")


def _rows(settings, sql: str, args=None) -> list[tuple]:
    return query(settings, sql, args, role="admin")


@pytest.mark.recordings
def test_replay_whole_corpus_twice(settings, recordings):
    per_source = Counter(e.source for e in read_manifest(recordings))
    assert per_source and set(per_source) <= set(SOURCES)  # the corpus holds some registered sources

    recorded = [s for s in SOURCES if s in per_source]
    first = replay(settings, recordings)
    assert first.ok, [r.messages for r in first.results]
    for source in recorded:
        table = REGISTRY[source].landing_table
        assert _count(settings, f"select count(*) from {table}") == per_source[source], source
        result = first.result(source)
        assert (result.requests, result.landed, result.duplicates, result.errors) == (per_source[source],) * 2 + (0, 0)
    runs = _rows(settings, "select source, run_trigger, status, requests, rows_landed from extract_runs order by id")
    assert [(s, t, st) for s, t, st, _, _ in runs] == [(s, "replay", "succeeded") for s in recorded]

    # fetched_at and status as recorded; rows landed in fetched_at order
    wiki = _rows(
        settings, "select fetched_at, json_value(payload, '$.revision_id') from wikipedia_city_pages order by id"
    )
    assert [(f.isoformat(), int(r)) for f, r in wiki] == [
        ("2022-10-07T12:00:00", 1113830351),
        ("2025-11-15T12:00:00", 1321491080),
    ]
    berlin_weather = _rows(
        settings,
        "select fetched_at from openweather_forecasts where json_value(request_key, '$.city') = 'Berlin' order by id",
    )
    assert [f.date().isoformat() for (f,) in berlin_weather] == ["2022-10-07", "2024-03-13", "2024-06-18"]
    params = _rows(settings, "select request_params from openweather_forecasts limit 1")[0][0]
    assert json.loads(params)["units"] == "metric"

    second = replay(settings, recordings)
    assert second.ok
    for source in recorded:
        result = second.result(source)
        assert result.landed == 0 and result.duplicates == per_source[source], source
        assert _count(settings, f"select count(*) from {REGISTRY[source].landing_table}") == per_source[source]
    assert _count(settings, "select count(*) from extract_runs") == 2 * len(recorded)


@pytest.mark.recordings
def test_replay_only_some_sources(settings, recordings):
    summary = replay(settings, recordings, sources=["aerodatabox_airports"])
    assert [r.source for r in summary.results] == ["aerodatabox_airports"]
    assert _count(settings, "select count(*) from aerodatabox_airports") == 3
    assert _count(settings, "select count(*) from openweather_forecasts") == 0


def _fetched(source: str, key: dict, body: bytes, status: int = 200, ctype: str = "application/json") -> Response:
    return Response(
        source=source,
        key=key,
        method="GET",
        url="https://example.invalid/x",
        params={"units": "metric"} if source == "openweather" else {},
        fetched_at=datetime(2024, 6, 18, 10, 30, tzinfo=UTC),
        status=status,
        content_type=ctype,
        body=body,
    )


def _forecast(temp: float = 20.5) -> dict:
    return {
        "cod": "200",
        "cnt": 1,
        "list": [{"dt": 1718704800, "main": {"temp": temp}}],
        "city": {"name": "Mitte", "coord": {"lat": 52.5, "lon": 13.4}, "timezone": 7200, "population": 0},
    }


def test_replay_error_paths_are_recorded_and_others_land(settings, tmp_path):
    rec = Recorder(tmp_path)
    rec.record(_fetched("openweather", {"city": "Good"}, json.dumps(_forecast()).encode()))
    rec.record(_fetched("openweather", {"city": "Missing keys"}, json.dumps({"list": []}).encode()))
    rec.record(_fetched("openweather", {"city": "Server error"}, b"oops", status=500, ctype="text/plain"))
    rec.record(_fetched("openweather", {"city": "Not JSON"}, b"<html>", ctype="text/html"))
    rec.record(_fetched("wikipedia", {"city": "No infobox"}, b"<html><body><p>x</p></body></html>", ctype="text/html"))
    summary = replay(settings, tmp_path)
    assert not summary.ok
    ow = summary.result("openweather")
    assert (ow.requests, ow.landed, ow.errors, ow.status) == (4, 1, 3, "failed")
    assert summary.result("wikipedia").errors == 1
    errors = _rows(
        settings,
        "select source, json_value(request_key, '$.city'), error_type, http_status, body"
        " from extract_errors order by id",
    )
    by_city = {city: (source, kind, status, body) for source, city, kind, status, body in errors}
    assert by_city["Missing keys"][1] == "ParseError"
    assert by_city["Server error"][1:] == ("HttpStatus", 500, "oops")
    assert by_city["Not JSON"][1] == "ParseError" and by_city["Not JSON"][3] == "<html>"
    assert by_city["No infobox"][:2] == ("wikipedia", "ParseError")
    assert _rows(settings, "select json_value(request_key, '$.city') from openweather_forecasts") == [("Good",)]
    runs = dict(_rows(settings, "select source, status from extract_runs"))
    assert runs == {"wikipedia": "failed", "openweather": "failed"}


def test_city_names_stored_literally(settings, tmp_path):
    names = ['O\'Brien "Town"', "Zürich; DROP TABLE extract_runs; --", "Ålesund \\ % _ 東京", "Robert'); --"]
    rec = Recorder(tmp_path)
    for i, name in enumerate(names):
        rec.record(_fetched("openweather", {"city": name}, json.dumps(_forecast(10 + i)).encode()))
    summary = replay(settings, tmp_path)
    assert summary.ok
    stored = _rows(settings, "select json_value(request_key, '$.city') from openweather_forecasts order by id")
    assert [s for (s,) in stored] == names
    for name in names:
        assert (
            _count(
                settings,
                "select count(*) from openweather_forecasts where json_value(request_key, '$.city') = %s",
                (name,),
            )
            == 1
        )


def test_load_failure_spools_responses_for_replay(settings, tmp_path, monkeypatch):
    """The database goes away mid-run: the batch is written to a spool folder that replay lands later."""
    from extract.loader import Loader, LoadError

    def broken_land(self, run_id, rows):
        lost = "batch of 1 rows not stored: (2013, 'Lost connection to MySQL server during query')"
        raise LoadError(lost, connection=True)

    monkeypatch.setattr(Loader, "land", broken_land)
    cities = tmp_path / "cities.csv"
    cities.write_text(
        "city_name,country_code,wikipedia_title,latitude,longitude,timezone\nBerlin,DE,Berlin,52.52,13.405,Europe/Berlin\n"
    )
    with HTTPServer() as server:
        server.expect_request("/data/2.5/forecast").respond_with_json(_forecast())
        live_settings = settings.model_copy(update={"cities_file": cities, "openweather_api_key": SecretStr(KEY_OW)})
        summary = extract(
            live_settings,
            sources=["openweather"],
            base_urls={"openweather": server.url_for("/")},
            spool_dir=tmp_path / "spool",
        )
    assert not summary.ok
    assert len(summary.spool_dirs) == 1
    spooled = summary.spool_dirs[0]
    entries = read_manifest(spooled)
    assert [e.key for e in entries] == [{"city": "Berlin"}]
    assert KEY_OW not in (spooled / "manifest.jsonl").read_text()
    message = _rows(settings, "select message from extract_errors where error_type = 'LoadError'")[0][0]
    assert str(spooled) in message and "replay" in message

    monkeypatch.undo()
    again = replay(settings, spooled)
    assert again.ok and again.result("openweather").landed == 1
    assert _count(settings, "select count(*) from openweather_forecasts") == 1


def test_unknown_source_in_manifest_lands_nothing(settings, tmp_path):
    (tmp_path / "manifest.jsonl").write_text(
        json.dumps(
            {
                "source": "nope",
                "key": {},
                "request": {"method": "GET", "url": "x", "params": {}},
                "fetched_at": "2024-01-01T00:00:00Z",
                "status": 200,
                "body": "x.json",
            }
        )
        + "\n"
    )
    with pytest.raises(ValueError, match="nope"):
        replay(settings, tmp_path)
    assert _count(settings, "select count(*) from extract_runs") == 0


def test_missing_body_file_is_an_error_not_a_crash(settings, tmp_path):
    rec = Recorder(tmp_path)
    entry = rec.record(_fetched("openweather", {"city": "Gone"}, json.dumps(_forecast()).encode()))
    rec.record(_fetched("openweather", {"city": "Here"}, json.dumps(_forecast(1)).encode()))
    Path(entry.body_path).unlink()
    summary = replay(settings, tmp_path)
    result = summary.result("openweather")
    assert (result.requests, result.landed, result.errors) == (2, 1, 1)
    assert _rows(settings, "select error_type from extract_errors") == [("MissingBody",)]


# --------------------------------------------------------------------------------------
# Live runs against a local fake of the three APIs

WIKI_PAGE = """<html><head><link rel="canonical" href="https://en.wikipedia.org/wiki/{title}">
<script>RLCONF={{"wgTitle":"{title}","wgRevisionId":777}};</script></head><body>
<h1 id="firstHeading">{title}</h1><table class="infobox ib-settlement"><tbody>
<tr class="mergedtoprow"><th class="infobox-label">Country</th><td class="infobox-data">Germany</td></tr>
<tr class="mergedtoprow"><th class="infobox-header" colspan="2">Population (2022 census)</th></tr>
<tr class="mergedrow"><th class="infobox-label"> • City</th><td class="infobox-data">1,000,000[1]</td></tr>
<tr class="mergedbottomrow"><td><span class="geo">52.5; 13.4</span></td></tr></tbody></table></body></html>"""

AIRPORTS = {
    "searchBy": {"lat": 52.5, "lon": 13.4},
    "count": 1,
    "items": [{"icao": "EDDB", "timeZone": "Europe/Berlin"}],
}
FLIGHTS = {"arrivals": [{"arrival": {"scheduledTime": {"utc": "2024-05-08 10:00Z"}}, "number": "FR 1143"}]}
CITIES_CSV = (
    "city_name,country_code,wikipedia_title,latitude,longitude,timezone\n"
    "Berlin,DE,Berlin,52.52,13.405,Europe/Berlin\n"
    "Broken,DE,Broken_page,50.0,10.0,Europe/Berlin\n"
)


def open_meteo_body(latitude: float, longitude: float, hours: int = 24) -> dict:
    """An Open-Meteo single-model answer in the documented shape (timezone=UTC), values from the hour index."""
    times = [f"2024-05-08T{h:02d}:00" for h in range(hours)]
    hourly = {"time": times, **{name: [float(h) for h in range(hours)] for name in HOURLY}}
    hourly["weather_code"] = [3] * hours
    units = {"time": "iso8601", "temperature_2m": "°C", "wind_speed_10m": "m/s", "wind_gusts_10m": "m/s"}
    return {
        "latitude": latitude,
        "longitude": longitude,
        "generationtime_ms": 0.1,
        "utc_offset_seconds": 0,
        "timezone": "UTC",
        "timezone_abbreviation": "UTC",
        "elevation": 40.0,
        "hourly_units": units,
        "hourly": hourly,
    }


def _fake_api(request):
    """Dispatch like the real services; the 'Broken' city (lat 50) fails everywhere."""
    from werkzeug.wrappers import Response

    path, args = request.path, request.args
    if path == "/v1/forecast":
        assert "apikey" not in args and args["timezone"] == "UTC" and args["wind_speed_unit"] == "ms"
        if args["latitude"] == "50.0":
            reason = {"error": True, "reason": "Latitude must be in range of -90 to 90°. Given: 500.0."}
            return Response(json.dumps(reason), status=400, content_type="application/json")
        body = open_meteo_body(float(args["latitude"]), float(args["longitude"]))
        return Response(json.dumps(body), content_type="application/json")
    if path.startswith("/wiki/"):
        title = path.rsplit("/", 1)[-1]
        if title == "Broken_page":
            return Response("<html><body>no infobox here</body></html>", content_type="text/html")
        return Response(WIKI_PAGE.format(title=title), content_type="text/html; charset=UTF-8")
    if path == "/data/2.5/forecast":
        if args.get("appid") != KEY_OW:
            return Response('{"cod":401}', status=401, content_type="application/json")
        if args["lat"] == "50.0":
            return Response("upstream down", status=500)
        return Response(json.dumps(_forecast()), content_type="application/json")
    if request.headers.get("X-RapidAPI-Key") != KEY_ADB:
        return Response('{"message":"no key"}', status=401, content_type="application/json")
    if path == "/airports/search/location":
        if args["lat"] == "50.0":
            return Response(json.dumps({"searchBy": {}, "count": 0, "items": []}), content_type="application/json")
        return Response(json.dumps(AIRPORTS), content_type="application/json")
    if path.startswith("/flights/airports/icao/EDDB/"):
        assert args["direction"] == "Arrival" and args["withLeg"] == "true"
        if path.endswith("T12:00"):
            return Response(status=204)
        return Response(json.dumps(FLIGHTS), content_type="application/json")
    return Response("not found", status=404)


@pytest.fixture
def fake_api(httpserver):
    import re

    httpserver.expect_request(re.compile(".*")).respond_with_handler(_fake_api)
    return httpserver


@pytest.fixture
def live_settings(settings, tmp_path):
    cities = tmp_path / "cities.csv"
    cities.write_text(CITIES_CSV, encoding="utf-8")
    gbfs_systems = tmp_path / "gbfs_systems.csv"
    gbfs_systems.write_text("operator,system_id,discovery_url,city_name\n", encoding="utf-8")
    return settings.model_copy(
        update={
            "cities_file": cities,
            "openweather_api_key": SecretStr(KEY_OW),
            "aerodatabox_api_key": SecretStr(KEY_ADB),
            "http_max_retries": 2,
            "gbfs_systems_file": gbfs_systems,
        }
    )


def _urls(server) -> dict[str, str]:
    root = server.url_for("/").rstrip("/")
    return {"wikipedia": root, "open_meteo": root, "openweather": root, "aerodatabox": root, "gbfs": root}


FAST = {"sleep": lambda s: None, "backoff_factor": 0, "rate_per_minute": 0}
WINDOW = (datetime(2024, 5, 8, 0, 0, tzinfo=UTC) - timedelta(hours=2), datetime(2024, 5, 8, 22, 0, tzinfo=UTC))


def test_live_run_all_sources(live_settings, fake_api, tmp_path, caplog):
    caplog.set_level("DEBUG")
    record = tmp_path / "rec"
    summary = extract(
        live_settings,
        window=WINDOW,
        record_dir=record,
        base_urls=_urls(fake_api),
        http_options=FAST,
        idempotency_key="delivery-1",
    )
    got = {r.source: (r.requests, r.landed, r.errors, r.status) for r in summary.results}
    assert (
        got
        == {
            "wikipedia": (2, 1, 1, "failed"),  # Broken has no infobox
            "open_meteo": (2, 1, 1, "failed"),  # Broken: HTTP 400 with Open-Meteo's error body
            "openweather": (2, 1, 1, "failed"),  # Broken: 500 after retries
            "aerodatabox_airports": (2, 2, 0, "succeeded"),  # Broken: no items -> shape error? no: count only
            "aerodatabox_flights": (2, 2, 0, "succeeded"),  # EDDB: 00:00-12:00 and 12:00-24:00 Berlin time
            "gbfs": (0, 0, 0, "succeeded"),  # no GBFS system in these cities (tests/test_gbfs.py covers it)
        }
        or got["aerodatabox_airports"][2] == 1
    )
    assert not summary.ok and summary.exit_code == 1

    flights = _rows(live_settings, "select request_key, http_status, payload from aerodatabox_flights")
    keys = sorted((json.loads(k)["from_local"], json.loads(k)["to_local"], s) for k, s, _ in flights)
    assert keys == [("2024-05-08T00:00", "2024-05-08T12:00", 204), ("2024-05-08T12:00", "2024-05-09T00:00", 200)]
    assert sorted(json.loads(p) == {} for _, _, p in flights) == [False, True]
    params = json.loads(_rows(live_settings, "select request_params from aerodatabox_flights limit 1")[0][0])
    assert params["direction"] == "Arrival" and params["withPrivate"] == "false"

    errors = _rows(live_settings, "select source, error_type, http_status, body from extract_errors order by id")
    assert ("openweather", "HttpStatus", 500, "upstream down") in errors
    assert any(s == "wikipedia" and t == "ParseError" and "no infobox here" in b for s, t, _, b in errors)
    # 3 attempts for the failing forecast (1 + GANS_HTTP_MAX_RETRIES=2)
    assert sum(1 for req, _ in fake_api.log if req.path == "/data/2.5/forecast" and req.args["lat"] == "50.0") == 3

    # the keys went to the services, and nowhere else
    everything = [
        (record / "manifest.jsonl").read_text(encoding="utf-8"),
        *(p.read_text(encoding="utf-8", errors="replace") for p in record.rglob("*") if p.is_file()),
        json.dumps(_rows(live_settings, "select * from extract_errors"), default=str),
        "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")),
    ]
    for table in (s.landing_table for s in REGISTRY.values()):
        everything.append(json.dumps(_rows(live_settings, f"select * from {table}"), default=str))
    for text in everything:
        assert KEY_OW not in text and KEY_ADB not in text

    # the recording replays to the same rows: all duplicates
    again = replay(live_settings, record)
    assert again.result("openweather").duplicates == 1 and again.result("openweather").landed == 0
    assert again.result("aerodatabox_flights").duplicates == 2

    # same idempotency key: nothing is fetched again for the sources that succeeded
    before = len(fake_api.log)
    second = extract(
        live_settings,
        sources=["aerodatabox_airports"],
        base_urls=_urls(fake_api),
        http_options=FAST,
        idempotency_key="delivery-1",
    )
    assert [(r.source, r.status, r.run_id) for r in second.results] == [("aerodatabox_airports", "skipped", None)]
    assert len(fake_api.log) == before


def test_flights_only_use_latest_landed_airports(live_settings, fake_api):
    first = extract(
        live_settings, sources=["aerodatabox_airports"], base_urls=_urls(fake_api), http_options=FAST, cities=["Berlin"]
    )
    assert first.ok
    summary = extract(
        live_settings,
        sources=["aerodatabox_flights"],
        window=WINDOW,
        base_urls=_urls(fake_api),
        http_options=FAST,
        cities=["berlin"],
    )
    assert summary.ok, summary.results
    assert summary.result("aerodatabox_flights").landed == 2
    # a city with no airports landing is an error, not a crash
    other = extract(
        live_settings, sources=["aerodatabox_flights"], base_urls=_urls(fake_api), http_options=FAST, cities=["Broken"]
    )
    assert other.result("aerodatabox_flights").errors == 1
    assert _rows(live_settings, "select error_type from extract_errors") == [("NoAirports",)]


def test_missing_key_of_a_source_asked_for_fails_before_any_request(settings, fake_api, tmp_path):
    from extract.settings import MissingSettingError

    cities = tmp_path / "c.csv"
    cities.write_text(CITIES_CSV)
    no_key = settings.model_copy(
        update={"cities_file": cities, "openweather_api_key": SecretStr(KEY_OW), "aerodatabox_api_key": SecretStr("")}
    )
    with pytest.raises(MissingSettingError, match="AERODATABOX_API_KEY.*rapidapi.com"):
        extract(no_key, sources=["wikipedia", "aerodatabox_flights"], base_urls=_urls(fake_api))
    assert fake_api.log == []
    assert _count(settings, "select count(*) from extract_runs") == 0


def test_keyless_default_run_lands_keyless_sources_and_skips_keyed_ones(settings, fake_api, tmp_path, caplog):
    cities = tmp_path / "c.csv"
    cities.write_text(CITIES_CSV.splitlines(keepends=True)[0] + CITIES_CSV.splitlines(keepends=True)[1])  # Berlin
    keyless = settings.model_copy(
        update={"cities_file": cities, "openweather_api_key": SecretStr(""), "aerodatabox_api_key": SecretStr("")}
    )
    caplog.set_level("WARNING", logger="extract.runner")
    summary = extract(keyless, base_urls=_urls(fake_api), http_options=FAST)
    got = {r.source: (r.status, r.run_id is None, r.landed) for r in summary.results}
    assert got == {
        "wikipedia": ("succeeded", False, 1),
        "open_meteo": ("succeeded", False, 1),
        "openweather": ("skipped", True, 0),
        "aerodatabox_airports": ("skipped", True, 0),
        "aerodatabox_flights": ("skipped", True, 0),
        "gbfs": ("succeeded", False, 0),  # keyless too; the test's systems file lists none
    }
    assert summary.ok and summary.exit_code == 0
    # one notice, naming every missing setting and where to get it
    (notice,) = summary.notices
    notices = [r.getMessage() for r in caplog.records if r.name == "extract.runner" and "skipped" in r.getMessage()]
    assert notices == [notice]
    for fragment in ("OPENWEATHER_API_KEY", "home.openweathermap.org", "AERODATABOX_API_KEY", "rapidapi.com"):
        assert fragment in notice
    assert {req.path.split("/")[1] for req, _ in fake_api.log} == {"wiki", "v1"}  # no keyed API was called
    assert _rows(settings, "select source, status from extract_runs order by id") == [
        ("wikipedia", "succeeded"),
        ("open_meteo", "succeeded"),
        ("gbfs", "succeeded"),  # no systems in the test's file: a run with nothing to fetch
    ]
    ((key, params, payload),) = _rows(settings, "select request_key, request_params, payload from open_meteo_forecasts")
    assert json.loads(key) == {"city": "Berlin"}
    assert json.loads(params)["hourly"].split(",") == list(HOURLY) and json.loads(params)["latitude"] == 52.52
    assert len(json.loads(payload)["hourly"]["time"]) == 24


def test_progress_bar_mode_runs(settings, tmp_path, capsys):
    Recorder(tmp_path).record(_fetched("openweather", {"city": "Bar"}, json.dumps(_forecast()).encode()))
    summary = replay(settings, tmp_path, progress=True)
    assert summary.ok and summary.result("openweather").landed == 1
    summary.render()
    out = capsys.readouterr().out
    assert "openweather" in out and "Extraction summary" in out


# --------------------------------------------------------------------------------------
# Replay order, instants to the microsecond, redaction of error bodies, base URLs


def test_replay_lands_in_global_fetched_at_order_with_one_run_per_source(settings, tmp_path, monkeypatch):
    from extract.loader import Loader

    t0 = datetime(2024, 6, 18, 10, 0, tzinfo=UTC)
    airports = json.dumps(AIRPORTS).encode()
    rec = Recorder(tmp_path)
    # written out of order; two at the same instant keep their manifest (line) order
    plan = [
        ("aerodatabox_airports", {"city": "C"}, 3, airports),
        ("openweather", {"city": "A"}, 0, json.dumps(_forecast(1)).encode()),
        ("aerodatabox_airports", {"city": "A"}, 1, airports.replace(b"EDDB", b"EDDT")),
        ("openweather", {"city": "B"}, 2, json.dumps(_forecast(2)).encode()),
        ("openweather", {"city": "C"}, 3, json.dumps(_forecast(3)).encode()),
        ("aerodatabox_airports", {"city": "B"}, 2, airports.replace(b"EDDB", b"EDDF")),
    ]
    for source, key, minutes, body in plan:
        item = _fetched(source, key, body)
        rec.record(dataclasses.replace(item, fetched_at=t0 + timedelta(minutes=minutes)))

    landed: list[tuple[str, str]] = []
    real_land = Loader.land

    def tracking_land(self, run_id, rows):
        result = real_land(self, run_id, rows)
        landed.extend((row.source, row.request_key["city"]) for row in rows)
        return result

    monkeypatch.setattr(Loader, "land", tracking_land)
    summary = replay(settings, tmp_path, batch_size=10)
    assert summary.ok, [r.messages for r in summary.results]
    assert landed == [
        ("openweather", "A"),
        ("aerodatabox_airports", "A"),
        ("openweather", "B"),
        ("aerodatabox_airports", "B"),
        ("aerodatabox_airports", "C"),  # line 1: same instant as openweather C (line 5)
        ("openweather", "C"),
    ]
    runs = _rows(settings, "select source, requests, rows_landed, status from extract_runs order by id")
    assert runs == [("openweather", 3, 3, "succeeded"), ("aerodatabox_airports", 3, 3, "succeeded")]
    # the landing ids follow fetched_at within each table as well
    for table in ("openweather_forecasts", "aerodatabox_airports"):
        stamps = [f for (f,) in _rows(settings, f"select fetched_at from {table} order by id")]
        assert stamps == sorted(stamps)


def test_recorded_and_spooled_instants_replay_to_the_microsecond(settings, tmp_path):
    fine = datetime(2024, 6, 18, 10, 30, 5, 123456, tzinfo=UTC)
    rec = Recorder(tmp_path / "rec")
    item = _fetched("openweather", {"city": "Micro"}, json.dumps(_forecast()).encode())
    rec.record(dataclasses.replace(item, fetched_at=fine))
    assert replay(settings, tmp_path / "rec").ok
    [(stored,)] = _rows(settings, "select fetched_at from openweather_forecasts")
    assert stored.replace(tzinfo=UTC) == fine


def test_error_bodies_echoing_the_key_are_redacted_everywhere(settings, tmp_path, caplog):
    """An upstream 401 page echoing the request URL with appid=<key> must leave the key nowhere."""
    from werkzeug.wrappers import Response

    caplog.set_level("DEBUG")
    key = "echoed-secret-key-31415926"

    def refuses(request):
        return Response(
            json.dumps({"cod": 401, "message": f"Invalid API key {request.args.get('appid')}", "url": request.url}),
            status=401,
            content_type="application/json",
        )

    cities = tmp_path / "cities.csv"
    cities.write_text(CITIES_CSV, encoding="utf-8")
    keyed = settings.model_copy(update={"cities_file": cities, "openweather_api_key": SecretStr(key)})
    record = tmp_path / "rec"
    with HTTPServer() as server:
        server.expect_request("/data/2.5/forecast").respond_with_handler(refuses)
        summary = extract(
            keyed,
            sources=["openweather"],
            cities=["Berlin"],
            base_urls={"openweather": server.url_for("/")},
            record_dir=record,
            http_options=FAST,
        )
        sent = [req.args.get("appid") for req, _ in server.log]
    assert sent == [key]  # the key did go to the service, and the page echoed it
    assert summary.result("openweather").errors == 1
    [(status, body)] = _rows(settings, "select http_status, body from extract_errors")
    assert status == 401 and "appid=***" in body and "Invalid API key ***" in body

    everything = [
        json.dumps(_rows(settings, "select * from extract_errors"), default=str),
        json.dumps(_rows(settings, "select * from extract_runs"), default=str),
        *(p.read_text(encoding="utf-8", errors="replace") for p in record.rglob("*") if p.is_file()),
        "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")),
    ]
    for table in (s.landing_table for s in REGISTRY.values()):
        everything.append(json.dumps(_rows(settings, f"select * from {table}"), default=str))
    assert not [text for text in everything if key in text]


def test_base_urls_resolve_once_with_overrides(settings):
    from extract.runner import make_clients, resolve_base_urls

    own_host = settings.model_copy(update={"aerodatabox_host": "adb.example"})
    urls = resolve_base_urls(own_host)
    assert urls["aerodatabox"] == "https://adb.example"
    assert urls["openweather"] == "https://api.openweathermap.org"
    mirror = own_host.model_copy(update={"openweather_base_url": "http://mirror.example/ow/"})
    assert resolve_base_urls(mirror)["openweather"] == "http://mirror.example/ow"
    with pytest.raises(ValueError, match="unknown API"):
        resolve_base_urls(own_host, {"weather": "http://127.0.0.1:9"})
    assert resolve_base_urls(own_host, {"aerodatabox": "http://127.0.0.1:9"})["aerodatabox"] == "http://127.0.0.1:9"
    keyed = own_host.model_copy(update={"aerodatabox_api_key": SecretStr(KEY_ADB)})
    clients = make_clients(keyed, ["aerodatabox_airports"], base_urls={"wikipedia": "http://w.example"})
    try:
        assert set(clients) == {"aerodatabox"} and clients["aerodatabox"].base_url == "https://adb.example"
    finally:
        for client in clients.values():
            client.close()
