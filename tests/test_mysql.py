"""MySQL, the production engine, builds the same marts as MariaDB from the same landed data.

Production is RDS for MySQL 8.4; the rest of the suite runs on MariaDB 10.11. This module
starts a second, project-local server, a real MySQL (:class:`localdb.mysql_server.MySQLServer`:
Debian sid's MySQL 9.7 that ``scripts/install-mysql.sh`` unpacks into ``.local/mysql-dist``),
or uses the one ``GANS_TEST_MYSQL_HOST`` / ``GANS_TEST_MYSQL_PORT`` /
``GANS_TEST_MYSQL_ADMIN_USER`` / ``GANS_TEST_MYSQL_ADMIN_PASSWORD`` name (the ``mysql:8.4``
service of ``.github/workflows/ci.yml``; its project databases are dropped and recreated).
On each of the two servers (the session's MariaDB, fixture ``mariadb``, and MySQL) it runs
the migrations and grants (:func:`extract.db.bootstrap`), replays ``../shared/recordings``
and ``../shared/recordings-extra`` (where ``../shared`` is missing, as in CI: the repository's demo
corpus ``demo/``) through the extractors' replay, lands real GBFS vehicle snapshots
(:data:`GBFS_CAPTURES`, where ``../shared`` has them), and runs the whole
``dbt build`` with its tests through the project's runner (``python -m gans dbt build``, one
process per engine, the two side by side, each pointed at its server by the ``GANS_*``
variables). Then every table of the landing
database and every mart must hold the same rows on both, but for the columns that differ
legitimately between two loads (:data:`LOAD_TIME_COLUMNS`).

Missing MySQL binaries skip these tests locally, saying why; under CI (``CI=true``) they
fail instead, as does a server that does not start.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from dbt_helpers import dbt_process_env, gbfs_row, land

from extract import db
from extract.runner import replay
from extract.settings import PROJECT_ROOT, Settings
from localdb import ServerNotInstalled, ensure_credentials
from localdb.mysql_server import MySQLBinaries, MySQLServer, server_version
from transform.dbt_runner import prepare_profiles_dir

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEMO = PROJECT_ROOT / "demo"

#: Columns whose values belong to the load, not to the data, and so differ between any two
#: loads of the same recordings: the server's or the process's clock at insert (landing
#: ``loaded_at``, copied into the staging models and marts; the run log's ``started_at``,
#: ``finished_at``, ``lease_until``; ``extract_errors.occurred_at``, copied into the mart
#: ``recent_extract_errors`` as ``occurred_at_utc``; the fan-out plans' ``created_at``;
#: ``schema_migrations.applied_at``) and the random token of the process that opened a run
#: (``extract_runs.owner_token_sha256``). Rows are compared on every other
#: column, landing ids and run ids included (both replays insert in the same order).
LOAD_TIME_COLUMNS = {
    "loaded_at",
    "started_at",
    "finished_at",
    "lease_until",
    "occurred_at",
    "occurred_at_utc",
    "created_at",
    "applied_at",
    "owner_token_sha256",
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


class _External:
    """A MySQL server this session did not start (``GANS_TEST_MYSQL_HOST``); left running."""

    def __init__(self, host: str, port: int, root_password: str):
        self.host, self.port, self.root_password = host, port, root_password

    def destroy(self) -> None:
        """Nothing to stop: the server belongs to whoever started it."""


@pytest.fixture(scope="session")
def mysql_server(mariadb, tmp_path_factory):
    """A started MySQL server (or the one ``GANS_TEST_MYSQL_HOST`` names), separate from the MariaDB one.

    Yields ``(server, admin_user)``. Skips (locally) or fails (``CI=true``) when the unpacked
    binaries are missing.
    """
    if os.environ.get("GANS_TEST_MYSQL_HOST"):
        server = _External(
            os.environ["GANS_TEST_MYSQL_HOST"],
            int(os.environ.get("GANS_TEST_MYSQL_PORT", "3306")),
            os.environ.get("GANS_TEST_MYSQL_ADMIN_PASSWORD", ""),
        )
        yield server, os.environ.get("GANS_TEST_MYSQL_ADMIN_USER", "root")
        return
    try:
        MySQLBinaries.find()
    except ServerNotInstalled as exc:
        if _in_ci():
            pytest.fail(f"CI must test on MySQL: {exc}")
        pytest.skip(str(exc))
    from conftest import _free_port

    base = tmp_path_factory.mktemp("mysql")
    password = ensure_credentials(base / "credentials.env")["GANS_ADMIN_PASSWORD"]
    server = MySQLServer(base / "server", port=_free_port(), root_password=password)
    try:
        server.up()
        yield server, "root"
    finally:
        server.destroy()


def _corpus(name: str) -> Path | None:
    folder = SHARED / name
    return folder if (folder / "manifest.jsonl").is_file() else None


#: what both engines replay: ../shared's corpora where present, else demo/ (redistributable, in the
#: repository: so CI, which never has ../shared, compares the engines too)
CORPORA = [folder for folder in map(_corpus, ("recordings", "recordings-extra")) if folder is not None] or [DEMO]


def settings_on(server, admin_user: str) -> Settings:
    """Settings pointing at ``server`` (a started :class:`MySQLServer`) over TCP, with ``admin_user`` as admin."""
    return Settings(
        db_host=server.host,
        db_port=server.port,
        db_socket="",
        db_ssl_ca="",
        admin_user=admin_user,
        admin_password=server.root_password,
    )


#: Real GBFS vehicle snapshots (``../shared/captures/gbfs``, none in the recordings) landed on both
#: engines after the corpora, so the vehicle models (parsing, cells, pairs, changes) run on MySQL
#: with data: as the seed's Hamburg systems (a tracked city: cells and availability), TIER
#: Wolfsburg's five snapshots five minutes apart (pairs, vehicle changes, trips) and Lime Ottawa's
#: coordinates as JSON strings, both systems the seed lacks.
GBFS_CAPTURES = {
    "dott-hamburg": ["dott_hamburg_free_bike_status_v2.3_2026-04-13T1816Z_web-dave.json"],
    "lime_hamburg": ["lime_hamburg_free_bike_status_v1.0_2026-04-13T1822Z_web-dave.json"],
    "lime_ottawa": ["lime_ottawa_free_bike_status_v1.0_string-latlon_2020-08-31T1110Z_khibma.json"],
    "tier_wolfsburg": [f"tier_wolfsburg_free_bike_status_v2.3_2023-08-01T10{m}Z_owner-converted_phuongduyta.json"
                       for m in ("10", "15", "20", "25", "30")],
}  # fmt: skip


def _gbfs_capture_rows() -> list:
    """The landing rows of :data:`GBFS_CAPTURES` that ``../shared`` holds, each fetched 5 s after its last_updated."""
    rows = []
    for system_id, names in GBFS_CAPTURES.items():
        for path in (SHARED / "captures" / "gbfs" / name for name in names):
            if path.is_file():
                payload = json.loads(path.read_text(encoding="utf-8"))
                fetched_at = datetime.fromtimestamp(int(payload["last_updated"]), UTC) + timedelta(seconds=5)
                rows.append(gbfs_row("free_bike_status", payload, system_id, fetched_at))
    return rows


def _land(settings: Settings, corpora: list[Path]) -> dict:
    """Bootstrap (reset: migrations, users, grants), replay ``corpora`` in order, land the GBFS captures
    (where ``../shared`` has them); the replays' summaries."""
    db.bootstrap(settings, reset=True)
    summaries = {folder.name: replay(settings, folder) for folder in corpora}
    rows = _gbfs_capture_rows()
    if rows:
        assert land(settings, rows) == len(rows)
    return summaries


def _start_dbt_build(settings: Settings, admin_user: str, work: Path) -> subprocess.Popen:
    """``python -m gans dbt build`` (the project's runner) pointed at ``settings``' server, started, not awaited.

    One process per engine, so the two builds run side by side (dbt cannot run twice at
    once in one process); each writes its ``run_results.json`` under ``work/target``.
    """
    env = dbt_process_env(settings, admin_user, work)
    return subprocess.Popen(
        [sys.executable, "-m", "gans", "dbt", "build"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _outcome(process: subprocess.Popen, work: Path) -> dict:
    """How a build went, from its exit status, its output and dbt's ``run_results.json``."""
    output, _ = process.communicate(timeout=1800)
    results_file = work / "target" / "run_results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.exists() else []
    statuses = {
        kind: Counter(r["status"] for r in results if r["unique_id"].startswith(kind + "."))
        for kind in ("seed", "model", "test")
    }
    failures = [
        f"{r['status']} {r['unique_id']}: {r.get('message')}"
        for r in results
        if r["status"] not in ("success", "pass", "warn", "skipped")
    ]
    return {"success": process.returncode == 0, "statuses": statuses, "failures": failures, "output": output}


@pytest.fixture(scope="module")
def builds(mariadb, mysql_server, tmp_path_factory) -> dict:
    """The corpora (:data:`CORPORA`) landed and built on MariaDB and on MySQL."""
    corpora = CORPORA
    server, admin_user = mysql_server
    mariadb_settings = Settings()
    conn = _connect(mariadb_settings, "")
    try:
        session_engine = server_version(conn)
    finally:
        conn.close()
    if "MariaDB" not in session_engine:
        # GANS_TEST_EXTERNAL_DB=1 on a MySQL server (ci.yml's mysql8 job): nothing to compare with
        pytest.skip(f"the session's server is {session_engine}, not MariaDB: the comparison needs MariaDB")
    mysql_settings = settings_on(server, admin_user)
    prepare_profiles_dir()  # once, before two processes would both copy it
    landed = {"mariadb": _land(mariadb_settings, corpora), "mysql": _land(mysql_settings, corpora)}
    work = {engine: tmp_path_factory.mktemp(f"dbt_{engine}") for engine in landed}
    processes = {
        "mariadb": _start_dbt_build(mariadb_settings, mariadb_settings.admin_user, work["mariadb"]),
        "mysql": _start_dbt_build(mysql_settings, admin_user, work["mysql"]),
    }
    outcomes = {engine: _outcome(process, work[engine]) for engine, process in processes.items()}
    return {
        "corpora": corpora,
        **{
            engine: {"settings": settings, "replays": landed[engine], **outcomes[engine]}
            for engine, settings in (("mariadb", mariadb_settings), ("mysql", mysql_settings))
        },
    }


def _connect(settings: Settings, database: str):
    return db.connect(settings, "admin", database=database)


def _tables(settings: Settings, database: str) -> dict[str, list[str]]:
    """Tables and views of ``database`` -> their column names in column order."""
    conn = _connect(settings, database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select table_name, column_name from information_schema.columns"
                " where table_schema = %s order by table_name, ordinal_position",
                (database,),
            )
            tables: dict[str, list[str]] = {}
            for table, column in cur.fetchall():
                tables.setdefault(table, []).append(column)
            return tables
    finally:
        conn.close()


def _normal(value):
    """A value both engines' drivers agree on: JSON text parsed, numbers as exact decimals."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str) and value[:1] in "[{":
        try:  # MariaDB keeps JSON as written, MySQL re-serialises it ({"a": 1})
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    if isinstance(value, float):
        # doubles computed with the same functions may differ in the last bits between the
        # engines' math libraries: 12 significant digits, far below any unit the marts show
        return "nan" if math.isnan(value) else f"{value:.12g}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _rows(settings: Settings, database: str, table: str, columns: list[str]) -> Counter:
    conn = _connect(settings, database)
    try:
        with conn.cursor() as cur:
            cur.execute(f"select {', '.join(f'`{c}`' for c in columns)} from `{database}`.`{table}`")
            return Counter(tuple(_normal(v) for v in row) for row in cur.fetchall())
    finally:
        conn.close()


def _differences(builds: dict, database: str) -> dict[str, str]:
    """Per table of ``database`` whose rows differ between the engines: a description of how."""
    left, right = builds["mariadb"]["settings"], builds["mysql"]["settings"]
    tables_left, tables_right = _tables(left, database), _tables(right, database)
    differences = {}
    for table in sorted(set(tables_left) | set(tables_right)):
        if tables_left.get(table) != tables_right.get(table):
            differences[table] = f"columns: MariaDB {tables_left.get(table)}, MySQL {tables_right.get(table)}"
            continue
        columns = [c for c in tables_left[table] if c not in LOAD_TIME_COLUMNS]
        rows_left, rows_right = _rows(left, database, table, columns), _rows(right, database, table, columns)
        if rows_left != rows_right:
            only_left, only_right = rows_left - rows_right, rows_right - rows_left
            differences[table] = (
                f"{sum(rows_left.values())} rows on MariaDB, {sum(rows_right.values())} on MySQL; "
                f"only on MariaDB (first 3 of {sum(only_left.values())}): {list(only_left)[:3]}; "
                f"only on MySQL (first 3 of {sum(only_right.values())}): {list(only_right)[:3]} (columns {columns})"
            )
    return differences


@pytest.mark.parametrize("corpus", [folder.name for folder in CORPORA])
def test_corpus_replays_alike_on_both_engines(builds, corpus):
    """Each corpus lands the same rows (and the same extract errors) per source on MySQL as on MariaDB."""
    on_mariadb, on_mysql = builds["mariadb"]["replays"][corpus], builds["mysql"]["replays"][corpus]
    counts = [
        {r.source: (r.status, r.requests, r.landed, r.duplicates, r.errors) for r in summary.results}
        for summary in (on_mariadb, on_mysql)
    ]
    assert counts[0] == counts[1]
    assert sum(landed for _, _, landed, _, _ in counts[1].values()) > 0


def test_the_servers_are_the_two_engines(builds):
    """The comparison is between MariaDB and MySQL, not a server with itself."""
    versions = []
    for engine in ("mariadb", "mysql"):
        conn = _connect(builds[engine]["settings"], "")
        try:
            versions.append(server_version(conn))
        finally:
            conn.close()
    assert "MariaDB" in versions[0], versions
    assert "MariaDB" not in versions[1], versions


@pytest.mark.parametrize("engine", ["mariadb", "mysql"])
def test_dbt_build_with_its_tests_is_green(builds, engine):
    """The whole ``dbt build`` (seeds, models, every test) passes on the engine."""
    build = builds[engine]
    assert build["success"], build["output"][-3000:] + "\n" + "\n".join(build["failures"])
    assert build["failures"] == []
    assert build["statuses"]["model"]["success"] > 0
    assert build["statuses"]["test"]["pass"] > 0


def test_landing_tables_equal_row_for_row(builds):
    """The migrations and the loader store the same landing, run-log and error rows on both engines."""
    settings = builds["mariadb"]["settings"]
    differences = _differences(builds, settings.raw_database)
    assert not differences, "\n".join(f"{table}: {how}" for table, how in differences.items())


def test_marts_equal_row_for_row(builds):
    """Every mart holds the same rows on MySQL as on MariaDB (load-time columns aside)."""
    if not builds["mysql"]["success"]:
        pytest.fail("dbt build failed on MySQL: " + "\n".join(builds["mysql"]["failures"][:10]))
    marts = builds["mariadb"]["settings"].marts_database
    tables = _tables(builds["mariadb"]["settings"], marts)
    assert {"cities", "weather_forecasts", "flight_arrivals", "landing_reconciliation"} <= set(tables)
    # built on both, empty from these corpora (no GBFS system of a tracked city): tests/test_demand.py fills them, on
    # MySQL 8.4 in ci.yml's mysql8 job
    assert {"demand_factors", "demand_baseline", "demand_backtest", "demand_placement"} <= set(tables)
    differences = _differences(builds, marts)
    assert not differences, "\n".join(f"{table}: {how}" for table, how in differences.items())


def test_gbfs_vehicle_models_equal_row_for_row(builds):
    """The GBFS captures' vehicles, cells, pair comparisons, changes and the marts built from them hold rows,
    the same on MySQL as on MariaDB (load-time columns aside)."""
    if not _gbfs_capture_rows():
        pytest.skip("../shared/captures/gbfs is missing: no GBFS vehicle snapshot to land (demo/ has stations only)")
    if not builds["mysql"]["success"]:
        pytest.fail("dbt build failed on MySQL: " + "\n".join(builds["mysql"]["failures"][:10]))
    settings = builds["mariadb"]["settings"]
    checked = {
        settings.staging_database: [
            "base_gbfs__vehicles", "int_gbfs__cell_snapshots", "int_gbfs__vehicle_pair_diffs",
            "int_gbfs__vehicle_changes",
        ],
        # gbfs_availability: its cell centres once differed in the 6th decimal (MySQL's decimal division)
        settings.marts_database: ["gbfs_trip_events", "gbfs_availability"],
    }  # fmt: skip
    for database, tables in checked.items():
        columns = _tables(settings, database)
        for table in tables:
            kept = [c for c in columns[table] if c not in LOAD_TIME_COLUMNS]
            on_mariadb = _rows(settings, database, table, kept)
            on_mysql = _rows(builds["mysql"]["settings"], database, table, kept)
            assert sum(on_mariadb.values()) > 0, f"{table}: no row from the captures"
            only_mariadb, only_mysql = list(on_mariadb - on_mysql)[:3], list(on_mysql - on_mariadb)[:3]
            assert on_mariadb == on_mysql, f"{table}: only on MariaDB {only_mariadb}, only on MySQL {only_mysql}"


def test_mysql_server_is_set_up_as_rds(mysql_server):
    """The MySQL server speaks utf8mb4, knows the named time zones and runs MySQL's strict default SQL mode."""
    server, admin_user = mysql_server
    settings = Settings(
        db_host=server.host, db_port=server.port, db_socket="", db_ssl_ca="",
        admin_user=admin_user, admin_password=server.root_password,
    )  # fmt: skip
    conn = _connect(settings, "")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select @@character_set_server, @@collation_server, @@sql_mode,"
                " convert_tz('2026-07-01 12:00:00', 'UTC', 'Europe/Berlin'), @@time_zone"
            )
            charset, collation, sql_mode, berlin, time_zone = cur.fetchone()
    finally:
        conn.close()
    assert (charset, collation) == ("utf8mb4", "utf8mb4_unicode_ci")
    assert berlin == datetime(2026, 7, 1, 14, 0)  # CEST: named zones loaded
    assert {"ONLY_FULL_GROUP_BY", "STRICT_TRANS_TABLES"} <= set(sql_mode.split(","))
    if isinstance(server, MySQLServer):  # an external server keeps its own setting (SYSTEM: UTC in the container)
        assert time_zone == "+00:00"
