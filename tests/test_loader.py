"""The loader: idempotent (twice landed, stored once), literal (fields kept exactly) and atomic batches."""

from __future__ import annotations

import json
from datetime import datetime

import pymysql
import pytest
from landing_helpers import T0, count_rows, landing_row

from extract import db
from extract.loader import LandingRow, Loader, LoadError
from extract.runlog import RunLog


def test_landing_twice_stores_once_and_counts_duplicates(loader_conn):
    run = RunLog(loader_conn).start("openweather", "test")
    loader = Loader(loader_conn)
    first = loader.land(run.id, [landing_row("Berlin", 20.0), landing_row("Paris", 21.0), landing_row("Berlin", 20.0)])
    assert (first.landed, first.duplicates) == (2, 1)
    second = loader.land(run.id, [landing_row("Berlin", 20.0), landing_row("Paris", 21.0), landing_row("Berlin", 22.5)])
    assert (second.landed, second.duplicates) == (1, 2)  # a changed payload is new data
    assert count_rows(loader_conn, "openweather_forecasts") == 3


def test_landed_row_keeps_fields_literally(loader_conn):
    city = "Saint-Étienne 'O\"Reilly'; drop table x; -- 東京"
    run = RunLog(loader_conn).start("wikipedia", "test")
    row = LandingRow(
        source="wikipedia",
        request_key={"city": city},
        request_params={},
        fetched_at=T0,
        http_status=200,
        payload={"country": 'Côte "d\'Ivoire" \\ 東京 😀', "population": 1, "zz": [None, 1.5], "aa": {}},
        extra={"infobox_html": "<table class='infobox'>\\ 'é' 😀</table>"},
    )
    Loader(loader_conn).land(run.id, [row])
    with loader_conn.cursor() as cur:
        cur.execute(
            "select json_unquote(json_extract(request_key, '$.city')), fetched_at, payload_sha256, infobox_html,"
            " request_key_sha256, payload, json_unquote(json_extract(payload, '$.country')) from wikipedia_city_pages"
        )
        stored_city, fetched_at, payload_hash, html, key_hash, payload, country = cur.fetchone()
    assert stored_city == city
    assert fetched_at == datetime(2024, 6, 18, 10, 30)  # stored as UTC
    assert payload_hash == row.payload_sha256 and key_hash == row.request_key_sha256
    assert html == row.extra["infobox_html"]
    assert json.loads(payload) == row.payload and country == row.payload["country"]


def test_batch_failing_half_way_leaves_nothing(loader_conn):
    run = RunLog(loader_conn).start("openweather", "test")
    loader = Loader(loader_conn, max_statement_bytes=300)  # one row per INSERT statement
    good = [landing_row(f"City {i}", 10.0 + i) for i in range(5)]
    bad = landing_row("Broken", 1.0, status=99999)  # out of SMALLINT range: strict mode rejects it
    with pytest.raises(LoadError):
        loader.land(run.id, [*good, bad])
    assert count_rows(loader_conn, "openweather_forecasts") == 0
    assert loader.land(run.id, good).landed == 5  # the connection is usable afterwards


def _kill_on(settings, conn, monkeypatch, calls_to_kill: set[int]) -> dict:
    """Make the server drop ``conn`` just before its n-th statement, for every n in ``calls_to_kill``."""
    admin = db.connect(settings, "admin", autocommit=True)
    calls = {"n": 0}
    real_execute = pymysql.cursors.Cursor.execute

    def execute_then_kill(self, query, args=None):
        calls["n"] += 1
        if calls["n"] in calls_to_kill:
            with admin.cursor() as cur:
                cur.execute("kill %s", (conn.thread_id(),))
        return real_execute(self, query, args)

    monkeypatch.setattr(pymysql.cursors.Cursor, "execute", execute_then_kill)
    return calls


def test_connection_lost_mid_batch_is_reopened_once_and_the_batch_lands_whole(settings, loader_conn, monkeypatch):
    run = RunLog(loader_conn).start("openweather", "test")
    loader = Loader(loader_conn, max_statement_bytes=300)  # one row per INSERT statement
    first_thread = loader_conn.thread_id()
    calls = _kill_on(settings, loader_conn, monkeypatch, {4})  # after the existence check and two INSERTs
    result = loader.land(run.id, [landing_row(f"City {i}", 10.0 + i) for i in range(5)])
    monkeypatch.undo()
    assert calls["n"] > 6 and loader.reconnects == 1 and loader_conn.thread_id() != first_thread
    assert (result.landed, result.duplicates) == (5, 0)
    assert count_rows(loader_conn, "openweather_forecasts") == 5  # the first attempt's rows were rolled back


def test_database_gone_for_good_mid_batch_leaves_nothing(settings, loader_conn, monkeypatch):
    run = RunLog(loader_conn).start("openweather", "test")
    loader = Loader(loader_conn, max_statement_bytes=300)
    calls = _kill_on(settings, loader_conn, monkeypatch, {4, 7})  # the reopened connection dies too
    with pytest.raises(LoadError) as failed:
        loader.land(run.id, [landing_row(f"City {i}", 10.0 + i) for i in range(5)])
    monkeypatch.undo()
    assert failed.value.connection is True and loader.reconnects == 1 and calls["n"] >= 7
    loader_conn.ping(reconnect=True)
    assert count_rows(loader_conn, "openweather_forecasts") == 0


def test_refused_row_is_a_data_error_not_a_connection_error(loader_conn):
    run = RunLog(loader_conn).start("openweather", "test")
    with pytest.raises(LoadError) as refused:
        Loader(loader_conn).land(run.id, [landing_row("Deep", 1.0), _deep_row(200)])
    assert refused.value.connection is False
    assert count_rows(loader_conn, "openweather_forecasts") == 0


def _deep_row(depth: int) -> LandingRow:
    payload: object = 1
    for _ in range(depth):
        payload = [payload]
    return LandingRow("openweather", {"city": "Deep"}, {}, T0, 200, {"list": payload})
