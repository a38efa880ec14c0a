"""Pipeline against the real MariaDB: replay of the shared corpus, error paths, spooling, live runs.

Live runs point the clients at a local pytest-httpserver; nothing is mocked on the database side.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from extract import db
from extract.loader import LANDING_TABLES, SOURCES
from extract.pipeline import extract, replay
from extract.recording import Recorder, read_manifest
from extract.sources import Fetched

KEY_OW = "ow-secret-key-0123456789"
KEY_ADB = "adb-secret-key-9876543210"


def _count(settings, sql: str, args=()) -> int:
    conn = db.connect(settings, "admin")
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]
    finally:
        conn.close()


def _rows(settings, sql: str, args=()) -> list[tuple]:
    conn = db.connect(settings, "admin")
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())
    finally:
        conn.close()


@pytest.mark.recordings
def test_replay_whole_corpus_twice(settings, recordings):
    per_source = Counter(e.source for e in read_manifest(recordings))
    assert set(per_source) == set(SOURCES)

    first = replay(settings, recordings)
    assert first.ok, [r.messages for r in first.results]
    for source in SOURCES:
        table = LANDING_TABLES[source]
        assert _count(settings, f"select count(*) from {table}") == per_source[source], source
        result = first.result(source)
        assert (result.requests, result.landed, result.duplicates, result.errors) == (per_source[source],) * 2 + (0, 0)
    runs = _rows(settings, "select source, run_trigger, status, requests, rows_landed from extract_runs order by id")
    assert [(s, t, st) for s, t, st, _, _ in runs] == [(s, "replay", "succeeded") for s in SOURCES]

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
    for source in SOURCES:
        result = second.result(source)
        assert result.landed == 0 and result.duplicates == per_source[source], source
        assert _count(settings, f"select count(*) from {LANDING_TABLES[source]}") == per_source[source]
    assert _count(settings, "select count(*) from extract_runs") == 2 * len(SOURCES)


@pytest.mark.recordings
def test_replay_only_some_sources(settings, recordings):
    summary = replay(settings, recordings, sources=["aerodatabox_airports"])
    assert [r.source for r in summary.results] == ["aerodatabox_airports"]
    assert _count(settings, "select count(*) from aerodatabox_airports") == 3
    assert _count(settings, "select count(*) from openweather_forecasts") == 0


def _fetched(source: str, key: dict, body: bytes, status: int = 200, ctype: str = "application/json") -> Fetched:
    return Fetched(
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
        raise LoadError("batch of 1 rows not stored: (2013, 'Lost connection to MySQL server during query')")

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
