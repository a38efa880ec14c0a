"""What the analyst sees: `make sql` output, the recent extraction errors, stored test failures, a busy port.

Everything runs against the session's real MariaDB (conftest ``mariadb``); dbt builds only
the nodes each test needs.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

from extract import db
from extract.runlog import RunLog
from localdb import LocalServer
from localdb.server import PortInUse, run_query
from transform.dbt_runner import DBT_PROJECT_DIR, run_dbt

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _admin(settings, sql: str, params=None) -> None:
    conn = db.connect(settings, "admin", database="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
    finally:
        conn.close()


def _sql(settings, query: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run_query(settings, query, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_sql_shows_the_header_and_zero_rows_for_an_empty_result(settings):
    marts = settings.marts_database
    _admin(settings, f"create table `{marts}`.probe (city varchar(20), note text, rows_seen int)")
    status, out, err = _sql(settings, "select * from probe")
    assert (status, out, err) == (0, "city\tnote\trows_seen\n", "0 rows\n")

    values = "('Berlin', 'a\ttab and a\nnewline', null), ('Hamburg', '', 2)"
    _admin(settings, f"insert into `{marts}`.probe values {values}")
    status, out, err = _sql(settings, "select * from probe order by city")
    assert status == 0
    assert out.splitlines() == ["city\tnote\trows_seen", "Berlin\ta\\ttab and a\\nnewline\tNULL", "Hamburg\t\t2"]
    assert err == "2 rows\n"


def test_sql_reports_an_error_in_one_line(settings):
    status, out, err = _sql(settings, "select * from no_such_table")
    assert status == 1 and out == ""
    assert err.startswith("error 1146: ") and "no_such_table" in err and err.count("\n") == 1
    # the analyst is read-only: the refusal is the server's, in one line
    status, _, err = _sql(settings, "create table t (a int)")
    assert status == 1 and err.startswith("error 1142: ")


def test_analyst_reads_recent_extraction_errors_without_bodies(settings, tmp_path):
    loader = db.connect(settings, "loader")
    try:
        runlog = RunLog(loader)
        run = runlog.start("openweather", "test")
        reason = "HTTP 503 from https://example.test/forecast"
        runlog.error(run, {"city": "Berlin"}, "HttpStatus", reason, 503, b"SECRET")
        runlog.error(run, None, "HostUnreachable", "example.test: connection refused")
        runlog.finish(run)
    finally:
        loader.close()
    # an error of a month ago is no longer recent
    _admin(
        settings,
        f"insert into `{settings.raw_database}`.extract_errors (run_id, source, error_type, message, occurred_at)"
        " values (%s, 'wikipedia', 'ParseError', 'old', timestampadd(day, -30, utc_timestamp(6)))",
        (run.id,),
    )
    paths = {"target_path": tmp_path / "target", "log_path": tmp_path / "logs", "profiles_dir": tmp_path / "p"}
    result = run_dbt(["build", "--select", "recent_extract_errors"], settings, **paths)
    assert result.success

    analyst = db.connect(settings, "analyst", database=settings.marts_database)
    try:
        with analyst.cursor() as cur:
            cur.execute(
                "select source_name, request_key, error_type, http_status, reason from recent_extract_errors"
                " order by error_type"
            )
            rows = cur.fetchall()
            columns = [c[0] for c in cur.description]
            cur.execute("select * from recent_extract_errors")
            every_column = {c[0] for c in cur.description}
            with pytest.raises(pymysql.err.OperationalError) as denied:
                cur.execute(f"select * from `{settings.raw_database}`.extract_errors")
    finally:
        analyst.close()
    assert columns[0] == "source_name"
    assert rows == (
        ("openweather", None, "HostUnreachable", None, "example.test: connection refused"),
        ("openweather", '{"city": "Berlin"}', "HttpStatus", 503, "HTTP 503 from https://example.test/forecast"),
    )
    assert "body" not in every_column and "occurred_at_utc" in every_column
    assert denied.value.args[0] == 1142  # gans_raw stays closed to the analyst


def test_stored_test_failures_have_a_database_of_their_own(settings, tmp_path):
    # a copy of the project whose countries seed holds a duplicate code: its unique test fails
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    with (project / "seeds" / "countries.csv").open("a", encoding="utf-8") as fh:
        fh.write("AT,Austria again\n")
    paths = {"target_path": tmp_path / "target", "log_path": tmp_path / "logs", "profiles_dir": tmp_path / "p"}
    result = run_dbt(["build", "--select", "countries"], settings, project_dir=project, **paths)
    assert not result.success
    failed = [r.node.name for r in result.result.results if str(r.status) == "fail"]
    assert failed == ["unique_countries_country_code"]

    analyst = db.connect(settings, "analyst", database=settings.test_failures_database)
    try:
        with analyst.cursor() as cur:
            cur.execute("select unique_field, n_records from unique_countries_country_code")
            assert cur.fetchall() == (("AT", 2),)
            cur.execute(
                "select table_schema from information_schema.tables where table_name = 'unique_countries_country_code'"
            )
            assert [r[0] for r in cur.fetchall()] == [settings.test_failures_database]
    finally:
        analyst.close()


def _listening_port() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_a_busy_port_is_said_at_once_naming_the_setting(tmp_path):
    with _listening_port() as busy:
        port = busy.getsockname()[1]
        server = LocalServer(tmp_path / "server", port=port, root_password="x")
        with pytest.raises(PortInUse) as raised:
            server.up()
        assert "GANS_DB_PORT" in str(raised.value) and str(port) in str(raised.value)
        assert not (tmp_path / "server" / "data").exists()  # nothing started or initialised

        # the command line (make db-up): one line on stderr, exit 1, no traceback
        env = {k: v for k, v in os.environ.items() if not k.startswith("GANS_")}
        env.update(GANS_HOME=str(tmp_path), GANS_DB_PORT=str(port))
        done = subprocess.run(
            [sys.executable, "-m", "localdb", "up"],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "GANS_DB_PORT" in done.stderr and "Traceback" not in done.stderr
