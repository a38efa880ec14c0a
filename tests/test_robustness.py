"""Bad input never stops a run: malformed and huge bodies, refused batches, lost connections,
deadlocks, abandoned runs, bad names, echoed secrets, redirects, overlapping deliveries, privileges.

Everything runs against the real test MariaDB and local fake APIs (pytest-httpserver).
The fuzz corpus is derived at test time from the shared recordings (skipped without them).
"""

from __future__ import annotations

import json
import os
import random
import re
import stat
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pymysql
import pytest
import yaml
from click.testing import CliRunner
from db_helpers import query
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Response as WsgiResponse

from extract import db
from extract.cities import CITY_NAME_MAX_CHARS, CitiesError, load_cities
from extract.http import HttpClient
from extract.loader import Loader
from extract.recording import Recorder, read_manifest
from extract.response import Response
from extract.runlog import RunLog
from extract.runner import extract, replay
from extract.sources import REGISTRY, ParseError
from gans.cli import cli

ROOT = Path(__file__).resolve().parent.parent
KEY_OW = "ow-sentinel-key-5c1e0d2a"
KEY_ADB = "adb-sentinel-key-77e1b9f4"
CITY_SOURCES = ("openweather", "aerodatabox_airports")


def _admin(settings):
    return db.connect(settings, "admin", autocommit=True)


def _rows(settings, sql: str, args=None) -> list[tuple]:
    return query(settings, sql, args, role="admin")


def _forecast(temp: float = 20.5, **extra) -> dict:
    """The smallest body the OpenWeather validator accepts, plus ``extra`` top-level fields."""
    city = {"name": "Mitte", "coord": {"lat": 52.5, "lon": 13.4}, "timezone": 7200, "population": 0}
    return {"cod": "200", "cnt": 1, "list": [{"dt": 1718704800, "main": {"temp": temp}}], "city": city, **extra}


def _cities_file(tmp_path: Path, names: list[str]) -> Path:
    path = tmp_path / "cities.csv"
    lines = ["city_name,country_code,wikipedia_title,latitude,longitude,timezone"]
    lines += [f"{name},DE,{name},52.52,{13.4 + i / 100:.3f},Europe/Berlin" for i, name in enumerate(names)]
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------
# Fuzz: a few hundred malformed bodies derived from the recordings


def _nest(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def _mutations(body: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    """(name, body) pairs derived from one real JSON body; the names say what was done."""
    text = body.decode("utf-8")
    cut = rng.randrange(1, len(body) - 1)
    flip = bytearray(body)
    for _ in range(5):
        flip[rng.randrange(len(flip))] = rng.randrange(256)
    first_colon = text.index(":")
    number = re.search(r'":\s*(-?\d[\d.eE+-]*)', text)  # a JSON number value (not digits inside a string)

    def with_value(value: str) -> bytes:
        if number is None:  # some FIDS bodies hold strings only: add a number field
            return ('{"fuzz_number":' + value + "," + text[1:]).encode()
        return (text[: number.start(1)] + value + text[number.end(1) :]).encode()

    obj = json.loads(text)
    deep_field = dict(obj, fuzz_deep=json.loads(_nest(40))) if isinstance(obj, dict) else obj
    return [
        ("truncated", body[:cut]),
        ("bytes flipped", bytes(flip)),
        ("integer over 64 bits", with_value(str(2**70))),
        ("negative integer over 64 bits", with_value(str(-(2**64) - 1))),
        ("5000-digit number", with_value("9" * 5000)),
        ("nested 300 deep", _nest(300).encode()),
        ("nested 2500 deep", _nest(2500).encode()),
        ("nested 300 deep inside the payload", (text[: first_colon + 1] + _nest(300) + "," + text[1:]).encode()),
        ("lone surrogate", text.replace('"', '"\\ud800', 3).encode()),
        ("invalid UTF-8", body[:cut] + b"\xff\xfe\xc3" + body[cut:]),
        ("empty", b""),
        ("null", b"null"),
        ("array", b"[]"),
        ("NaN", with_value("NaN")),
        ("field nested 40 deep (the database refuses it)", json.dumps(deep_field).encode()),
        ("unchanged", body),
    ]


def _fuzz_corpus(recordings: Path) -> list[tuple[str, Response]]:
    """(what, response) for every mutation of every JSON recording, each under its own request key."""
    rng = random.Random(20261201)
    base = [e.read() for e in read_manifest(recordings) if e.source in (*CITY_SOURCES, "aerodatabox_flights")]
    corpus: list[tuple[str, Response]] = []
    start = datetime(2030, 1, 1, tzinfo=UTC)
    for response in base:
        for what, body in _mutations(response.body, rng):
            n = len(corpus)
            if response.source == "aerodatabox_flights":
                t0 = start + timedelta(hours=12 * n)
                key = {
                    "airport_icao": "EDDB",
                    "from_local": f"{t0:%Y-%m-%dT%H:%M}",
                    "to_local": f"{t0 + timedelta(hours=12):%Y-%m-%dT%H:%M}",
                }
            else:
                key = {"city": f"Fuzz {n:03d}"}
            fetched_at = start + timedelta(seconds=n)
            corpus.append((what, replace(response, key=key, fetched_at=fetched_at, body=body)))
    return corpus


@pytest.mark.recordings
def test_fuzzed_bodies_never_stop_a_run_every_good_one_lands_every_bad_one_is_recorded(settings, recordings, tmp_path):
    corpus = _fuzz_corpus(recordings)
    assert len(corpus) >= 200
    rec = Recorder(tmp_path / "fuzz")
    for _, response in corpus:
        rec.record(response)
    started = time.monotonic()
    summary = replay(settings, tmp_path / "fuzz", batch_size=25)  # big batches: refused rows have batch-mates
    elapsed = time.monotonic() - started

    landed: dict[str, str] = {}
    for source in {r.source for _, r in corpus}:
        for (key,) in _rows(settings, f"select request_key from {REGISTRY[source].landing_table}"):
            landed[json.dumps(json.loads(key), sort_keys=True)] = source
    errors: dict[str, str] = {}
    for key, error_type in _rows(settings, "select request_key, error_type from extract_errors"):
        errors[json.dumps(json.loads(key), sort_keys=True)] = error_type
    outcome = {}
    for what, response in corpus:
        key = json.dumps(response.key, sort_keys=True)
        assert (key in landed) != (key in errors), (what, key)  # exactly one outcome per body
        outcome.setdefault(what, set()).add("landed" if key in landed else errors[key])

    assert outcome["unchanged"] == {"landed"}
    for what in (
        "integer over 64 bits",
        "5000-digit number",
        "nested 2500 deep",
        "lone surrogate",
        "empty",
        "truncated",
    ):
        assert "landed" not in outcome[what], what
    # parsed fine, refused by the server: found by splitting the batch, its batch-mates landed
    assert outcome["field nested 40 deep (the database refuses it)"] <= {"LoadRefused", "ParseError"}
    assert "LoadRefused" in {t for types in outcome.values() for t in types}
    total_errors = sum(r.errors for r in summary.results)
    assert sum(r.landed for r in summary.results) == len(landed) and total_errors == len(errors)
    assert len(landed) + len(errors) == len(corpus)
    runs = _rows(settings, "select status, requests, rows_landed, errors from extract_runs")
    assert {status for status, *_ in runs} == {"failed"} and sum(r[1] for r in runs) == len(corpus)
    assert elapsed < 60


def test_a_body_larger_than_the_servers_packet_is_an_error_row_and_its_batch_mates_land(settings, tmp_path):
    forecast = _forecast()
    huge = _forecast(padding="x" * 40_000_000)  # 40 MB, sent as 80 MB of hex: over the 64 MB packet
    rec = Recorder(tmp_path / "rec")
    t0 = datetime(2024, 6, 18, 10, 30, tzinfo=UTC)
    bodies = [forecast, huge, forecast, forecast]
    for i, body in enumerate(bodies):
        rec.record(
            Response(
                "openweather", {"city": f"C{i}"}, "GET", "https://x.invalid", {}, t0, 200, "", json.dumps(body).encode()
            )
        )
    summary = replay(settings, tmp_path / "rec", batch_size=10)
    result = summary.result("openweather")
    assert (result.landed, result.errors) == (3, 1)
    ((error_type, key, body_chars),) = _rows(
        settings, "select error_type, request_key, length(body) from extract_errors"
    )
    assert error_type == "TooLarge" and json.loads(key) == {"city": "C1"} and body_chars == 1_000_000  # capped


# --------------------------------------------------------------------------------------
# Concurrency: deadlocks and lock waits retried, overlapping deliveries claim once


@pytest.mark.recordings
def test_concurrent_replays_of_one_folder_both_exit_0_with_no_duplicate(settings, recordings, tmp_path):
    rec = Recorder(tmp_path / "many")
    entries = [e for e in read_manifest(recordings) if e.source in CITY_SOURCES]
    for copy in range(4):
        for i, entry in enumerate(entries):
            response = entry.read()
            rec.record(replace(response, key={"city": f"{response.key['city']} {copy}-{i}"}))
    expected = 4 * len(entries)
    command = [sys.executable, "-m", "gans", "replay", str(tmp_path / "many")]
    procs = [
        subprocess.Popen(command, cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    stored = sum(_rows(settings, f"select count(*) from {REGISTRY[s].landing_table}")[0][0] for s in CITY_SOURCES)
    assert stored == expected
    landed, duplicates = _rows(settings, "select sum(rows_landed), sum(rows_duplicate) from extract_runs")[0]
    assert (int(landed), int(duplicates)) == (expected, 2 * expected)


def test_deadlocked_batch_is_retried_with_backoff(settings, loader_conn):
    """Two loaders each hold a row the other's batch needs: the server kills one with a deadlock (1213)."""
    from landing_helpers import landing_row

    run = RunLog(loader_conn).start("openweather", "test")
    other = db.connect(settings, "loader")
    waits: list[float] = []
    loader = Loader(loader_conn, sleep=waits.append)
    a, b = landing_row("Deadlock A", 1.0), landing_row("Deadlock B", 2.0)
    heavy = [landing_row(f"Other {i}", float(i)) for i in range(30)]  # InnoDB rolls back the lighter transaction
    with other.cursor() as cur:  # the other loader stores B (and more) first, inside an open transaction
        cur.executemany(
            "insert into openweather_forecasts (run_id, request_key, request_key_sha256, request_params, fetched_at,"
            " http_status, payload, payload_sha256) values (%s, %s, %s, %s, %s, %s, %s, %s)",
            [tuple(str(v.text) if hasattr(v, "text") else v for v in row.values(run.id)) for row in [*heavy, b]],
        )

    def then_other_needs_a():
        time.sleep(0.5)  # our loader now waits on B; the other asks for A: a cycle
        with other.cursor() as cur:
            try:
                cur.execute(
                    "insert into openweather_forecasts (run_id, request_key, request_key_sha256, request_params,"
                    " fetched_at, http_status, payload, payload_sha256) values (%s, %s, %s, %s, %s, %s, %s, %s)",
                    tuple(str(v.text) if hasattr(v, "text") else v for v in a.values(run.id)),
                )
                other.commit()
            except pymysql.err.MySQLError:
                other.rollback()

    helper = threading.Thread(target=then_other_needs_a)
    helper.start()
    result = loader.land(run.id, [a, b])
    helper.join()
    other.close()
    assert loader.retries >= 1 and len(waits) == loader.retries  # the deadlock victim: rolled back, waited, retried
    assert (result.landed, result.duplicates) == (0, 2)  # the other loader stored both meanwhile
    assert _rows(settings, "select count(*) from gans_raw.openweather_forecasts")[0][0] == 32


def _slow_forecasts(server: HTTPServer, calls: list[int]) -> None:
    def respond(request):
        calls.append(1)
        time.sleep(0.05)
        # a body that differs per call: without the claim every delivery would land its own copy
        body = _forecast(float(len(calls)))
        return WsgiResponse(json.dumps(body), content_type="application/json")

    server.expect_request("/data/2.5/forecast").respond_with_handler(respond)


def test_overlapping_deliveries_of_one_event_land_once(settings, tmp_path):
    names = [f"City {i}" for i in range(14)]
    live = settings.model_copy(
        update={"cities_file": _cities_file(tmp_path, names), "openweather_api_key": SecretStr(KEY_OW)}
    )
    calls: list[int] = []
    results = []
    with HTTPServer(threaded=True) as server:
        _slow_forecasts(server, calls)
        barrier = threading.Barrier(3)

        def deliver():
            barrier.wait()
            summary = extract(
                live,
                sources=["openweather"],
                idempotency_key="gans-forecasts@2026-11-21T15:05:00Z/openweather",
                trigger="lambda",
                base_urls={"openweather": server.url_for("/")},
                http_options={"rate_per_minute": 0},
            )
            results.append(summary.result("openweather").status)

        threads = [threading.Thread(target=deliver) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # the two that found the key held are not successes: Lambda retries them, and they then skip
    assert sorted(results) == ["in_progress", "in_progress", "succeeded"]
    assert len(calls) == 14
    assert _rows(settings, "select count(*) from openweather_forecasts")[0][0] == 14
    assert _rows(settings, "select status, rows_landed from extract_runs") == [("succeeded", 14)]


# --------------------------------------------------------------------------------------
# Runs always close


def test_a_killed_run_is_closed_as_abandoned_with_counters_from_the_landing_tables(settings, tmp_path):
    """A child process opens a run, lands rows and an error, and is SIGKILLed before closing it."""
    script = """
import os, signal, sys
from landing_helpers import landing_row
from extract import db
from extract.loader import Loader
from extract.runlog import RunLog
from extract.settings import Settings
conn = db.connect(Settings(), "loader")
runlog = RunLog(conn)
run = runlog.start("openweather", "cli", "sched@2026-01-01T00:00:00Z/openweather")
Loader(conn).land(run.id, [landing_row(f"Killed {i}", float(i)) for i in range(3)])
runlog.error(run, {"city": "Killed 9"}, "HttpStatus", "HTTP 500", 500, b"busy")
os.kill(os.getpid(), signal.SIGKILL)
"""
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests'}")
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True)
    assert child.returncode == -9, child.stderr.decode()
    assert _rows(settings, "select status, rows_landed, errors, claim_sha256 is not null from extract_runs") == [
        ("running", 0, 0, 1)
    ]
    runner = CliRunner()
    within_lease = runner.invoke(cli, ["runs", "close-abandoned"])
    assert within_lease.exit_code == 0 and "closed 0" in within_lease.output  # it may still be working
    with _admin(settings).cursor() as cur:  # time passes: the lease runs out
        cur.execute("update extract_runs set lease_until = utc_timestamp(6) - interval 1 second")
    after_lease = runner.invoke(cli, ["runs", "close-abandoned"])
    assert after_lease.exit_code == 0 and "closed 1 abandoned run(s): 1" in after_lease.output
    assert _rows(
        settings,
        "select status, requests, rows_landed, errors, finished_at is not null, claim_sha256 is null from extract_runs",
    ) == [("abandoned", 4, 3, 1, 1, 1)]


def test_a_source_that_raises_still_closes_its_run(settings, tmp_path, monkeypatch):
    source = REGISTRY["openweather"]

    def broken_requests(ctx):
        yield from ()
        raise RuntimeError("the source's request builder broke")

    monkeypatch.setattr(type(source), "requests", lambda self, ctx: broken_requests(ctx))
    live = settings.model_copy(
        update={"cities_file": _cities_file(tmp_path, ["Berlin"]), "openweather_api_key": SecretStr(KEY_OW)}
    )
    summary = extract(live, sources=["openweather"], base_urls={"openweather": "http://127.0.0.1:9"})
    assert summary.result("openweather").status == "failed"
    assert _rows(settings, "select status, errors from extract_runs") == [("failed", 1)]
    assert "builder broke" in _rows(settings, "select message from extract_errors")[0][0]


# --------------------------------------------------------------------------------------
# Names and statuses


def test_city_name_width_is_the_seeds_column_width():
    project = yaml.safe_load((ROOT / "dbt_project" / "dbt_project.yml").read_text())
    column = project["seeds"]["gans"]["tracked_cities"]["+column_types"]["city_name"]
    assert column == f"varchar({CITY_NAME_MAX_CHARS})"


@pytest.mark.parametrize(
    "name, problem",
    [("   ", "non-blank"), (" Berlin", "whitespace"), ("Berlin ", "whitespace"), ("B" * 300, "longer than 100")],
)
def test_cities_file_refuses_bad_names_naming_the_line(tmp_path, name, problem):
    path = tmp_path / "cities.csv"
    path.write_text(
        "city_name,country_code,wikipedia_title,latitude,longitude,timezone\n"
        "Berlin,DE,Berlin,52.52,13.405,Europe/Berlin\n"
        f'"{name}",DE,X,52.52,13.405,Europe/Berlin\n'
    )
    with pytest.raises(CitiesError, match=f"cities.csv:3: .*{problem}"):
        load_cities(path)


@pytest.mark.parametrize("source", ["wikipedia", "openweather", "aerodatabox_airports"])
@pytest.mark.parametrize("name", ["", " ", " Berlin", "B" * (CITY_NAME_MAX_CHARS + 1)])
def test_request_keys_with_bad_city_names_are_refused(source, name):
    with pytest.raises(ParseError):
        REGISTRY[source].check_key({"city": name})
    assert REGISTRY[source].check_key({"city": "B" * CITY_NAME_MAX_CHARS})


def test_recordings_with_bad_names_or_statuses_are_error_rows(settings, tmp_path):
    t0 = datetime(2024, 6, 18, 10, 30, tzinfo=UTC)
    body = json.dumps(_forecast())
    rec = Recorder(tmp_path / "rec")
    cases = [({"city": ""}, 200), ({"city": "x" * 300}, 200), ({"city": "Status"}, 99999), ({"city": "Good"}, 200)]
    for key, status in cases:
        rec.record(Response("openweather", key, "GET", "https://x.invalid", {}, t0, status, "", body.encode()))
    summary = replay(settings, tmp_path / "rec")
    assert (summary.result("openweather").landed, summary.result("openweather").errors) == (1, 3)
    errors = _rows(settings, "select error_type, http_status, message from extract_errors order by id")
    assert [e[0] for e in errors] == ["ParseError", "ParseError", "HttpStatus"]
    assert errors[2][1] is None and "99999" in errors[2][2]


# --------------------------------------------------------------------------------------
# Secrets


def test_key_headers_never_follow_a_redirect_to_another_origin():
    with HTTPServer() as api, HTTPServer() as elsewhere:
        elsewhere.expect_request("/landing").respond_with_json({"ok": True})
        api.expect_request("/same").respond_with_data("", status=302, headers={"Location": api.url_for("/final")})
        api.expect_request("/final").respond_with_json({"ok": True})
        api.expect_request("/away").respond_with_data(
            "", status=302, headers={"Location": elsewhere.url_for("/landing")}
        )
        client = HttpClient(
            "aerodatabox", base_url=api.url_for("/"), headers={"X-RapidAPI-Key": KEY_ADB, "X-Api-Key": KEY_ADB}
        )
        assert client.get("/away").status == 200
        assert client.get("/same").status == 200
        client.close()
        (cross, _) = elsewhere.log[0]
        same = [req for req, _ in api.log if req.path == "/final"][0]
    assert "X-RapidAPI-Key" not in cross.headers and "X-Api-Key" not in cross.headers
    assert same.headers["X-RapidAPI-Key"] == KEY_ADB  # same origin: still sent


def test_a_key_echoed_in_a_200_body_is_masked_before_it_lands(settings, tmp_path):
    live = settings.model_copy(
        update={"cities_file": _cities_file(tmp_path, ["Berlin"]), "openweather_api_key": SecretStr(KEY_OW)}
    )
    echoed = _forecast(debug=f"request appid={KEY_OW} key {KEY_OW}")
    with HTTPServer() as server:
        server.expect_request("/data/2.5/forecast").respond_with_json(echoed)
        summary = extract(live, sources=["openweather"], base_urls={"openweather": server.url_for("/")})
    assert summary.ok
    ((payload,),) = _rows(settings, "select payload from openweather_forecasts")
    assert KEY_OW not in payload and json.loads(payload)["debug"] == "request appid=*** key ***"
    assert _rows(settings, "select secrets_redacted from extract_runs") == [(2,)]


@pytest.mark.parametrize(
    "statement",
    [
        "update gans_raw.extract_runs set status = 'succeeded'",
        "insert into gans_raw.extract_runs (source, run_trigger, started_at, status)"
        " values ('openweather', 'x', now(), 'succeeded')",
        "insert into gans_raw.schema_migrations (version, name, checksum, applied_at) values (999, 'x', 'x', now())",
        "delete from gans_raw.extract_errors",
    ],
)
def test_loader_cannot_write_runs_or_migrations_directly(loader_conn, statement):
    with loader_conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError) as denied:
        cur.execute(statement)
    assert denied.value.args[0] in (1142, 1143)


def test_loader_can_close_only_its_own_runs(settings, loader_conn):
    mine = RunLog(loader_conn)
    run = mine.start("openweather", "test", "sched@1/openweather")
    other = db.connect(settings, "loader")
    try:
        with other.cursor() as cur:  # another process knows the id, not the token
            cur.execute("call gans_close_run(%s, %s, 0, 0, 0, 0, 0)", (run.id, "guessed-token"))
            cur.execute("call gans_close_abandoned_run(%s, 0)", (run.id,))  # its lease has not run out
        other.commit()
    finally:
        other.close()
    assert _rows(settings, "select status from extract_runs") == [("running",)]
    forged = replace(run, token="guessed-token")
    with pytest.raises(RuntimeError, match="could not be closed"):
        mine.finish(forged)
    assert mine.finish(run) == "succeeded"


def test_local_root_has_a_password_and_the_socket_is_private(mariadb):
    assert len(mariadb.root_password) >= 16
    with pytest.raises(pymysql.err.OperationalError) as denied:
        pymysql.connect(host=mariadb.host, port=mariadb.port, user="root", password="")
    assert denied.value.args[0] == 1045
    mode = stat.S_IMODE(mariadb.socket.stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)
    assert stat.S_IMODE(mariadb.basedir.stat().st_mode) & 0o077 == 0
    mariadb.admin_connection().close()  # the tooling still gets in
