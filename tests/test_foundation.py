"""The foundation: migrations, users' privileges, idempotent and atomic loading."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pymysql
import pytest

from extract import db
from extract.loader import LANDING_TABLES, LandingRow, Loader, LoadError
from extract.runlog import RunLog

T0 = datetime(2024, 6, 18, 10, 30, tzinfo=UTC)


def _row(city: str, temp: float, source: str = "openweather", status: int = 200) -> LandingRow:
    return LandingRow(
        source=source,
        request_key={"city": city},
        request_params={"lat": 52.5, "lon": 13.4, "units": "metric"},
        fetched_at=T0,
        http_status=status,
        payload={"list": [{"main": {"temp": temp}}], "city": {"name": city}},
    )


def _count(conn, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        return cur.fetchone()[0]


def _tables(settings, database: str) -> set[str]:
    conn = db.connect(settings, "admin", database=database)
    with conn.cursor() as cur:
        cur.execute("show tables")
        names = {r[0] for r in cur.fetchall()}
    conn.close()
    return names


def test_migrations_create_landing_schema_and_rerun_is_noop(settings):
    tables = _tables(settings, settings.raw_database)
    assert set(LANDING_TABLES.values()) | {"extract_runs", "extract_errors", "schema_migrations"} <= tables
    assert db.migrate(settings) == []  # already applied by bootstrap: nothing to do
    conn = db.connect(settings, "admin")
    with conn.cursor() as cur:
        cur.execute("select version from schema_migrations")
        assert [r[0] for r in cur.fetchall()] == [m.version for m in db.migrations()]
        cur.execute("show create table wikipedia_city_pages")
        ddl = cur.fetchone()[1]
    conn.close()
    assert "infobox_html" in ddl and "uq_wikipedia_city_pages_key_payload" in ddl


def test_bootstrap_twice_keeps_data(settings, loader_conn):
    run = RunLog(loader_conn).start("openweather", "test")
    Loader(loader_conn).land(run.id, [_row("Berlin", 20.0)])
    db.bootstrap(settings)  # no reset: a no-op for existing objects
    assert _count(loader_conn, "openweather_forecasts") == 1


def test_server_uses_utf8mb4_and_utc(settings, loader_conn):
    with loader_conn.cursor() as cur:
        cur.execute("select @@character_set_server, @@session.time_zone")
        charset, tz = cur.fetchone()
    assert charset == "utf8mb4" and tz == "+00:00"


@pytest.mark.parametrize(
    "role, statement",
    [
        ("loader", "create table gans.x (i int)"),
        ("loader", "update gans_raw.openweather_forecasts set http_status = 500"),
        ("loader", "delete from gans_raw.openweather_forecasts"),
        ("loader", "drop table gans_raw.openweather_forecasts"),
        ("analyst", "create table gans.x (i int)"),
        ("analyst", "create table gans_staging.x (i int)"),
        ("analyst", "select * from gans_raw.openweather_forecasts"),
        (
            "dbt",
            "insert into gans_raw.extract_runs (source, run_trigger, started_at, status) values ('x','x',now(),'x')",
        ),
        ("dbt", "create table gans_raw.x (i int)"),
    ],
)
def test_least_privilege_denies(settings, role, statement):
    conn = db.connect(settings, role, database="")
    try:
        with conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError) as denied:
            cur.execute(statement)
        assert denied.value.args[0] in (1142, 1044, 1045, 1143)  # command/db/column access denied
    finally:
        conn.close()


def test_privileges_allow_what_each_role_needs(settings):
    dbt_conn = db.connect(settings, "dbt", database="", autocommit=True)
    with dbt_conn.cursor() as cur:
        cur.execute("create table gans.allowed (i int)")
        cur.execute("insert into gans.allowed values (1)")
        cur.execute("create view gans_staging.v as select count(*) as n from gans_raw.openweather_forecasts")
    dbt_conn.close()
    analyst = db.connect(settings, "analyst", database="")
    with analyst.cursor() as cur:
        cur.execute("select i from gans.allowed")
        assert cur.fetchall() == ((1,),)
        cur.execute("select n from gans_staging.v")
        assert cur.fetchone() == (0,)
        with pytest.raises(pymysql.err.OperationalError):
            cur.execute("insert into gans.allowed values (2)")
    analyst.close()


def test_landing_twice_stores_once_and_counts_duplicates(loader_conn):
    run = RunLog(loader_conn).start("openweather", "test")
    loader = Loader(loader_conn)
    first = loader.land(run.id, [_row("Berlin", 20.0), _row("Paris", 21.0), _row("Berlin", 20.0)])
    assert (first.landed, first.duplicates) == (2, 1)
    second = loader.land(run.id, [_row("Berlin", 20.0), _row("Paris", 21.0), _row("Berlin", 22.5)])
    assert (second.landed, second.duplicates) == (1, 2)  # a changed payload is new data
    assert _count(loader_conn, "openweather_forecasts") == 3


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
        infobox_html="<table class='infobox'>\\ 'é' 😀</table>",
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
    assert html == row.infobox_html
    assert json.loads(payload) == row.payload and country == row.payload["country"]


def test_batch_failing_half_way_leaves_nothing(loader_conn):
    run = RunLog(loader_conn).start("openweather", "test")
    loader = Loader(loader_conn, max_statement_bytes=300)  # one row per INSERT statement
    good = [_row(f"City {i}", 10.0 + i) for i in range(5)]
    bad = _row("Broken", 1.0, status=99999)  # out of SMALLINT range: strict mode rejects it
    with pytest.raises(LoadError):
        loader.land(run.id, [*good, bad])
    assert _count(loader_conn, "openweather_forecasts") == 0
    assert loader.land(run.id, good).landed == 5  # the connection is usable afterwards


def test_database_gone_mid_batch_leaves_nothing(settings, loader_conn, monkeypatch):
    run = RunLog(loader_conn).start("openweather", "test")
    loader = Loader(loader_conn, max_statement_bytes=300)
    loader_id = loader_conn.thread_id()
    admin = db.connect(settings, "admin", autocommit=True)
    calls = {"n": 0}
    real_execute = pymysql.cursors.Cursor.execute

    def execute_then_kill(self, query, args=None):
        calls["n"] += 1
        if calls["n"] == 4:  # after the existence check and two INSERTs: the server drops us
            with admin.cursor() as cur:
                cur.execute("kill %s", (loader_id,))
        return real_execute(self, query, args)

    monkeypatch.setattr(pymysql.cursors.Cursor, "execute", execute_then_kill)
    with pytest.raises(LoadError):
        loader.land(run.id, [_row(f"City {i}", 10.0 + i) for i in range(5)])
    monkeypatch.undo()
    assert calls["n"] >= 4  # the kill happened mid-batch, after rows had been sent
    with admin.cursor() as cur:
        cur.execute("select count(*) from gans_raw.openweather_forecasts")
        assert cur.fetchone()[0] == 0
    admin.close()


def test_run_log_records_runs_and_errors(loader_conn):
    runlog = RunLog(loader_conn)
    run = runlog.start("aerodatabox_flights", "test", idempotency_key="sched-1")
    run.counters.requests = 3
    runlog.error(run, {"airport_icao": "EDDB"}, "HTTPError", "503 Service Unavailable", 503, b"<html>busy</html>")
    assert runlog.finish(run) == "failed"
    assert not runlog.already_succeeded("aerodatabox_flights", "sched-1")
    with loader_conn.cursor() as cur:
        cur.execute(
            "select status, requests, errors, finished_at is not null from extract_runs where id = %s", (run.id,)
        )
        assert cur.fetchone() == ("failed", 3, 1, 1)
        cur.execute(
            "select error_type, http_status, body, json_extract(request_key, '$.airport_icao') from extract_errors"
        )
        assert cur.fetchone() == ("HTTPError", 503, "<html>busy</html>", '"EDDB"')
    ok = runlog.start("aerodatabox_flights", "test", idempotency_key="sched-2")
    assert runlog.finish(ok) == "succeeded"
    assert runlog.already_succeeded("aerodatabox_flights", "sched-2")
