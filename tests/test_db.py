"""The database: migrations, bootstrap, the server's charset and time zone, and each user's privileges."""

from __future__ import annotations

import pymysql
import pytest
from landing_helpers import count_rows, landing_row

from extract import db
from extract.loader import Loader
from extract.runlog import RunLog
from extract.sources import REGISTRY


def _tables(settings, database: str) -> set[str]:
    conn = db.connect(settings, "admin", database=database)
    with conn.cursor() as cur:
        cur.execute("show tables")
        names = {r[0] for r in cur.fetchall()}
    conn.close()
    return names


def test_migrations_create_landing_schema_and_rerun_is_noop(settings):
    tables = _tables(settings, settings.raw_database)
    assert (
        set(s.landing_table for s in REGISTRY.values()) | {"extract_runs", "extract_errors", "schema_migrations"}
        <= tables
    )
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
    Loader(loader_conn).land(run.id, [landing_row("Berlin", 20.0)])
    db.bootstrap(settings)  # no reset: a no-op for existing objects
    assert count_rows(loader_conn, "openweather_forecasts") == 1


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


def test_migration_versions_are_unique_and_ordered():
    versions = [m.version for m in db.migrations()]
    assert versions == sorted(set(versions)), versions
