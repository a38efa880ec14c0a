"""The database: migrations, bootstrap, the server's charset and time zone, and each user's privileges."""

from __future__ import annotations

import pymysql
import pytest
from landing_helpers import count_rows, landing_row

from extract import db
from extract.loader import Loader
from extract.migrations.landing import landing_table
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


# SHA-256 of each migration's text as deployed databases recorded it in schema_migrations when they
# applied it (001, 002 and 012 were .sql files then; their text is now built by landing_table).
DEPLOYED_CHECKSUMS = {
    1: "56d35ea714c130b67013c77d0d64b51666423391b985c43b2447b7ba3d0cbe26",
    2: "4f1783ac885f130a8159801be6455de19d22c40d88b9b8e2898b3fb9f4c84759",
    10: "0ddc686bdbfbb4eaaf7489a6068419e1e311efbea7652e45fd11a9369077382d",
    11: "1d5ab093abbb0d8795f05e3fd5703cf2cc1afacaad1b4511a2f692e4c90614ba",
    12: "5ba2cd0f9e13e0d10b3a384acc1679096604e6b7e6cef61180473f1b8d2bf267",
    13: "78c4e99219a6e7e026641cea15b51ed2bec2c64c47adfaadb0c96c7fbae2c692",
}


def test_migrations_keep_the_checksums_deployed_databases_recorded():
    shipped = {m.version: m.checksum for m in db.migrations()}
    assert {v: shipped.get(v) for v in DEPLOYED_CHECKSUMS} == DEPLOYED_CHECKSUMS


def test_a_database_migrated_before_takes_the_migrations_as_applied(settings):
    conn = db.connect(settings, "admin")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select version, checksum from schema_migrations where version <= %s", (max(DEPLOYED_CHECKSUMS),)
            )
            assert dict(cur.fetchall()) == DEPLOYED_CHECKSUMS
            # as a database holding another text of 002 would: refused, nothing applied
            cur.execute("update schema_migrations set checksum = repeat('0', 64) where version = 2")
        conn.commit()
        with pytest.raises(db.MigrationError, match="2_open_meteo_forecasts changed"):
            db.migrate(settings)
    finally:
        with conn.cursor() as cur:
            cur.execute("update schema_migrations set checksum = %s where version = 2", (DEPLOYED_CHECKSUMS[2],))
        conn.commit()
        conn.close()
    assert db.migrate(settings) == []


def test_landing_table_refuses_a_name_that_is_not_a_plain_identifier():
    with pytest.raises(ValueError, match="landing table name"):
        landing_table("gbfs_feeds; drop table extract_runs", "x")


def test_migration_versions_are_unique_and_ordered():
    versions = [m.version for m in db.migrations()]
    assert versions == sorted(set(versions)), versions
