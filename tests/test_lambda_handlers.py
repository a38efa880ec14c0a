"""The Lambda handlers, invoked in-process as Lambda would, against the test MariaDB.

- Secrets come from moto's Secrets Manager (``mock_aws``); the database passwords and
  API keys are removed from the environment, so only the secrets can supply them.
- The extract handler runs the live extraction code (:func:`extract.runner.extract`,
  its HTTP client included) against a local HTTP server (pytest-httpserver) that
  answers every request with the real recorded response of ``../shared/recordings``.
- The transform handler runs dbt on a read-only copy of ``dbt_project`` with only a
  temporary folder writable, after a build-time ``dbt parse`` like the image's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pymysql
import pytest
from db_helpers import scalar
from moto import mock_aws
from werkzeug import Response

from extract import db
from extract.cities import load_cities
from extract.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda"))

from gans_lambda import aws_secrets, extract_handler, transform_handler  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
OPENWEATHER_KEY = "ow-test-key-3f9a"
AERODATABOX_KEY = "adb-test-key-77c1"


# --------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def restore_environ():
    """dbt and the handlers export variables into os.environ: put it back afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def aws(settings, monkeypatch, restore_environ):
    """moto's Secrets Manager holding the test database's users and two API keys; env names them."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws_secrets.clear_cache()
    with mock_aws():
        client = boto3.client("secretsmanager")
        arns = {}
        for role in ("loader", "dbt"):
            value = {"username": getattr(settings, f"{role}_user"), "password": getattr(settings, f"{role}_password")}
            value["password"] = value["password"].get_secret_value()
            arns[role] = client.create_secret(Name=f"gans/db/{role}", SecretString=json.dumps(value))["ARN"]
            monkeypatch.setenv(f"GANS_DB_SECRET_{role.upper()}", arns[role])
            monkeypatch.delenv(f"GANS_{role.upper()}_PASSWORD", raising=False)
        keys = {"OPENWEATHER_API_KEY": OPENWEATHER_KEY, "AERODATABOX_API_KEY": AERODATABOX_KEY}
        arns["api_keys"] = client.create_secret(Name="gans/api-keys", SecretString=json.dumps(keys))["ARN"]
        monkeypatch.setenv("GANS_API_KEYS_SECRET", arns["api_keys"])
        for name in keys:
            monkeypatch.setenv(name, "")  # only the secret may supply them
        yield client, arns
    aws_secrets.clear_cache()


def _latest_recordings(recordings: Path) -> dict[str, dict[str, dict]]:
    """source -> city -> the manifest entry with the latest fetched_at (city-keyed sources)."""
    latest: dict[str, dict[str, dict]] = {}
    for line in (recordings / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        city = entry["key"].get("city")
        if city is None:
            continue
        current = latest.setdefault(entry["source"], {}).get(city)
        if current is None or entry["fetched_at"] > current["fetched_at"]:
            latest[entry["source"]][city] = entry
    return latest


class RecordedApis:
    """Answers OpenWeather, Wikipedia and AeroDataBox airport requests with recorded responses.

    A request is matched to its city by the coordinates (or page title) the extractor
    sends for that tracked city; the city's latest recording is served as recorded
    (status, content type, body bytes). ``fail_cities`` answer HTTP 503 instead.
    """

    def __init__(self, recordings: Path, settings: Settings):
        self.recordings = recordings
        self.latest = _latest_recordings(recordings)
        self.cities = load_cities(settings.cities_file)
        self.fail_cities: set[str] = set()
        self.requests: list[dict] = []

    def _city_at(self, lat: str, lon: str) -> str | None:
        for city in self.cities:
            if abs(city.latitude - float(lat)) < 1e-6 and abs(city.longitude - float(lon)) < 1e-6:
                return city.name
        return None

    def __call__(self, request) -> Response:
        args = request.args.to_dict()
        self.requests.append({"path": request.path, "args": args, "headers": dict(request.headers)})
        if request.path == "/data/2.5/forecast":
            source, city = "openweather", self._city_at(args.get("lat", "nan"), args.get("lon", "nan"))
        elif request.path == "/airports/search/location":
            source, city = "aerodatabox_airports", self._city_at(args.get("lat", "nan"), args.get("lon", "nan"))
        elif request.path.startswith("/wiki/"):
            title = request.path.removeprefix("/wiki/").replace("_", " ")
            source = "wikipedia"
            city = next((c.name for c in self.cities if c.wikipedia_title == title), None)
        else:
            return Response("no such endpoint", status=404)
        if city in self.fail_cities:
            return Response("service unavailable", status=503)
        entry = self.latest.get(source, {}).get(city)
        if entry is None:
            return Response(f"no recording for {source} {city}", status=404)
        body = (self.recordings / entry["body"]).read_bytes()
        return Response(body, status=entry["status"], content_type=entry["content_type"])


@pytest.fixture
def recorded_apis(recordings, settings, httpserver, monkeypatch, tmp_path):
    """A local server replaying the recordings; the extract handler's API roots point at it."""
    apis = RecordedApis(recordings, settings)
    httpserver.expect_request(re.compile("^/")).respond_with_handler(apis)
    root = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv("GANS_API_BASE_URLS", json.dumps({"openweather": root, "wikipedia": root, "aerodatabox": root}))
    monkeypatch.setenv("GANS_HTTP_MAX_RETRIES", "0")
    monkeypatch.setenv("OPENWEATHER_RATE_PER_MINUTE", "6000")
    monkeypatch.setenv("AERODATABOX_RATE_PER_MINUTE", "6000")
    monkeypatch.setenv("GANS_SPOOL_DIR", str(tmp_path / "spool"))
    return apis


def scheduler_event(schedule: str, scheduled_time: str, sources: list[str], **extra) -> dict:
    """The event EventBridge Scheduler delivers: the template's Input with the context attributes filled in."""
    return {
        "schedule": schedule,
        "scheduled_time": scheduled_time,
        "execution_id": f"exec-{hashlib.sha1(os.urandom(8)).hexdigest()[:12]}",
        "sources": sources,
        "transform": {"select": "tracked_cities source:gans_raw.openweather_forecasts+"},
        **extra,
    }


def _count(settings: Settings, sql: str, params: tuple | None = None) -> int:
    return scalar(settings, sql, params, role="admin")


def _runs(settings: Settings, source: str) -> list[tuple]:
    conn = db.connect(settings, "admin")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select id, run_trigger, idempotency_key, status, rows_landed, rows_duplicate, errors"
                " from extract_runs where source = %s order by id",
                (source,),
            )
            return list(cur.fetchall())
    finally:
        conn.close()


# --------------------------------------------------------------------------------------
# Secrets


def test_secrets_map_to_settings_and_are_cached(aws, settings):
    client, arns = aws
    overrides = aws_secrets.settings_overrides()
    assert overrides["loader_user"] == settings.loader_user
    assert overrides["loader_password"].get_secret_value() == settings.loader_password.get_secret_value()
    assert overrides["openweather_api_key"].get_secret_value() == OPENWEATHER_KEY
    assert overrides["aerodatabox_api_key"].get_secret_value() == AERODATABOX_KEY
    assert OPENWEATHER_KEY not in repr(overrides)

    # cached per container: a changed secret is seen only after the cache is dropped
    client.put_secret_value(SecretId=arns["api_keys"], SecretString=json.dumps({"OPENWEATHER_API_KEY": "rotated"}))
    assert aws_secrets.settings_overrides()["openweather_api_key"].get_secret_value() == OPENWEATHER_KEY
    aws_secrets.clear_cache()
    rotated = aws_secrets.settings_overrides()
    assert rotated["openweather_api_key"].get_secret_value() == "rotated"
    assert "aerodatabox_api_key" not in rotated


def test_bad_secrets_are_named_without_their_content(aws, monkeypatch):
    client, _ = aws
    arn = client.create_secret(Name="gans/db/broken", SecretString='{"username": "x", "pwd": "hunter22"}')["ARN"]
    monkeypatch.setenv("GANS_DB_SECRET_LOADER", arn)
    with pytest.raises(aws_secrets.SecretFormatError) as info:
        aws_secrets.settings_overrides()
    assert "gans/db/broken" in str(info.value) and "hunter22" not in str(info.value)
    arn = client.create_secret(Name="gans/api-keys-typo", SecretString='{"OPENWEATHER_KEY": "abc123"}')["ARN"]
    monkeypatch.setenv("GANS_DB_SECRET_LOADER", "")
    monkeypatch.setenv("GANS_API_KEYS_SECRET", arn)
    with pytest.raises(aws_secrets.SecretFormatError, match="OPENWEATHER_KEY") as info:
        aws_secrets.settings_overrides()
    assert "abc123" not in str(info.value)


# --------------------------------------------------------------------------------------
# Extract handler


def test_scheduled_event_lands_once_when_delivered_twice(aws, settings, recorded_apis, caplog):
    expected = {c.name for c in recorded_apis.cities} & set(recorded_apis.latest["openweather"])
    assert expected, "no OpenWeather recording for a tracked city"
    event = scheduler_event("gans-forecasts", "2026-11-21T15:05:00Z", ["openweather"])

    first = extract_handler.handler(event, None)
    assert first["ok"] is True
    assert first["landed"] == len(expected)
    assert first["transform"] == event["transform"]
    [result] = first["sources"]
    assert result["status"] == "succeeded" and result["requests"] == len(expected)
    assert result["idempotency_key"] == "gans-forecasts@2026-11-21T15:05:00Z/openweather"
    assert _count(settings, "select count(*) from openweather_forecasts") == len(expected)
    requests_after_first = len(recorded_apis.requests)
    # the API key came from the secret, was sent as OpenWeather expects, and is stored and logged nowhere
    assert {r["args"].get("appid") for r in recorded_apis.requests} == {OPENWEATHER_KEY}
    leaked = "select count(*) from openweather_forecasts where request_params like %s"
    assert _count(settings, leaked, (f"%{OPENWEATHER_KEY}%",)) == 0
    ours = [r.getMessage() for r in caplog.records if r.name != "werkzeug"]  # werkzeug is the test server
    assert ours and not any(OPENWEATHER_KEY in m for m in ours)

    # the same event again (at-least-once delivery; a new execution id): nothing fetched, nothing landed
    redelivered = {**event, "execution_id": "exec-redelivery"}
    second = extract_handler.handler(redelivered, None)
    assert second["ok"] is True and second["landed"] == 0
    assert second["sources"][0]["status"] == "skipped"
    assert len(recorded_apis.requests) == requests_after_first
    assert _count(settings, "select count(*) from openweather_forecasts") == len(expected)
    runs = _runs(settings, "openweather")
    assert len(runs) == 1
    assert runs[0][1:5] == ("lambda", "gans-forecasts@2026-11-21T15:05:00Z/openweather", "succeeded", len(expected))

    # the next scheduled time is a new key: fetched again, the unchanged forecasts stored once
    later = extract_handler.handler(scheduler_event("gans-forecasts", "2026-11-21T18:05:00Z", ["openweather"]), None)
    assert later["landed"] == 0 and later["sources"][0]["duplicates"] == len(expected)
    assert _count(settings, "select count(*) from openweather_forecasts") == len(expected)
    assert len(_runs(settings, "openweather")) == 2


def test_failed_delivery_raises_and_the_retry_completes_without_copies(aws, settings, recorded_apis):
    expected = {c.name for c in recorded_apis.cities} & set(recorded_apis.latest["openweather"])
    failing = sorted(expected)[0]
    recorded_apis.fail_cities = {failing}
    event = scheduler_event("gans-forecasts", "2026-11-22T00:05:00Z", ["openweather"])

    with pytest.raises(extract_handler.ExtractFailed, match="openweather"):
        extract_handler.handler(event, None)
    assert _count(settings, "select count(*) from openweather_forecasts") == len(expected) - 1
    assert _count(settings, "select count(*) from extract_errors where http_status = 503") == 1

    recorded_apis.fail_cities = set()  # the API recovered; Lambda retries the same event
    retry = extract_handler.handler(event, None)
    assert retry["ok"] is True
    assert retry["sources"][0]["landed"] == 1
    assert retry["sources"][0]["duplicates"] == len(expected) - 1
    assert _count(settings, "select count(*) from openweather_forecasts") == len(expected)
    assert [r[3] for r in _runs(settings, "openweather")] == ["failed", "succeeded"]

    # a third delivery after the success is skipped
    assert extract_handler.handler(event, None)["sources"][0]["status"] == "skipped"


def test_retry_after_a_late_failure_still_triggers_the_transform(aws, settings, recorded_apis, monkeypatch):
    """Attempt 1 lands every row, then dies before closing its run; the retry lands only duplicates."""
    from extract.runlog import RunLog

    expected = {c.name for c in recorded_apis.cities} & set(recorded_apis.latest["openweather"])
    event = scheduler_event("gans-forecasts", "2026-11-23T06:05:00Z", ["openweather"])

    def lost_connection(self, run):
        raise pymysql.err.OperationalError(2013, "Lost connection to MySQL server during query")

    with monkeypatch.context() as patched, pytest.raises(extract_handler.ExtractFailed):
        patched.setattr(RunLog, "finish", lost_connection)
        extract_handler.handler(event, None)
    assert _count(settings, "select count(*) from openweather_forecasts") == len(expected)
    assert [r[3:5] for r in _runs(settings, "openweather")] == [("running", 0)]  # its counters were never written

    # within its lease the dead attempt still holds the key: a delivery then must not run too, and
    # must not pass for a success either (it would end the retries with nothing fetched): it raises
    with pytest.raises(extract_handler.ExtractFailed, match="held by another run"):
        extract_handler.handler(event, None)
    assert [r[3] for r in _runs(settings, "openweather")] == ["running"]
    # once its lease has run out, the next (retried) delivery closes it as abandoned and runs
    admin = db.connect(settings, "admin", autocommit=True)
    with admin.cursor() as cur:
        cur.execute("update extract_runs set lease_until = utc_timestamp(6) - interval 1 second")
    admin.close()
    retry = extract_handler.handler(event, None)
    assert retry["ok"] is True
    assert retry["landed"] == 0 and retry["sources"][0]["duplicates"] == len(expected)
    assert retry["landed_total"] == retry["sources"][0]["landed_total"] == len(expected)
    runs = _runs(settings, "openweather")
    assert [r[3:5] for r in runs] == [("abandoned", len(expected)), ("succeeded", 0)]  # counted from the landing table
    record = {"requestContext": {"condition": "Success"}, "requestPayload": event, "responsePayload": retry}
    step = transform_handler.plan(record)
    assert step is not None and step["select"] == event["transform"]["select"]

    # another schedule's key with unchanged data: nothing new under that key, no transform
    later = extract_handler.handler(scheduler_event("gans-forecasts", "2026-11-23T09:05:00Z", ["openweather"]), None)
    assert later["landed_total"] == 0
    assert transform_handler.plan({"requestPayload": {}, "responsePayload": later}) is None


def test_wikipedia_and_airports_events_land_the_recorded_cities(aws, settings, recorded_apis):
    for source, table in (("wikipedia", "wikipedia_city_pages"), ("aerodatabox_airports", "aerodatabox_airports")):
        cities = sorted(set(recorded_apis.latest[source]) & {c.name for c in recorded_apis.cities})
        event = scheduler_event(f"gans-{source}", "2026-12-01T03:30:00Z", [source], cities=cities)
        report = extract_handler.handler(event, None)
        assert report["ok"] and report["landed"] == len(cities), report
        assert _count(settings, f"select count(*) from {table}") == len(cities)
        extract_handler.handler(event, None)
        assert _count(settings, f"select count(*) from {table}") == len(cities)
    assert {r["headers"].get("X-Rapidapi-Key") for r in recorded_apis.requests if "airports" in r["path"]} == {
        AERODATABOX_KEY
    }


def test_coming_day_window_follows_the_scheduled_time_in_berlin():
    # 18:00 in Berlin on the day before the spring DST change: the coming day has 23 hours
    request = extract_handler.parse_event(
        scheduler_event("gans-flights", "2026-03-28T17:00:00Z", ["aerodatabox_flights"], window="coming_day")
    )
    start, end = request["window"]
    assert start.isoformat() == "2026-03-29T00:00:00+01:00"
    assert end.isoformat() == "2026-03-30T00:00:00+02:00"
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    # a retry hours later asks for the same window: it depends on the event, not the clock
    again = extract_handler.parse_event(
        scheduler_event("gans-flights", "2026-03-28T17:00:00Z", ["aerodatabox_flights"], window="coming_day")
    )
    assert again["window"] == request["window"]
    assert request["idempotency_key"] == "gans-flights@2026-03-28T17:00:00Z"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"sources": ["weather"]}, "unknown source"),
        ({}, "sources"),
        ({"schedule": "s", "scheduled_time": "<aws.scheduler.scheduled-time>", "sources": ["wikipedia"]}, "scheduled"),
        ({"sources": ["wikipedia"], "window": {"start": "2026-01-02T00:00Z", "end": "2026-01-01T00:00Z"}}, "before"),
        ({"sources": ["wikipedia"], "window": {"start": "2026-01-01T00:00", "end": "2026-01-02T00:00"}}, "offset"),
        ({"sources": ["wikipedia"], "cities": "Berlin"}, "cities"),
    ],
)
def test_bad_events_are_refused_with_the_field_named(event, message):
    with pytest.raises(extract_handler.BadExtractEvent, match=message):
        extract_handler.parse_event(event)


# --------------------------------------------------------------------------------------
# Transform handler


def test_transform_plans_from_destination_records():
    record = {
        "requestContext": {"condition": "Success"},
        "requestPayload": {"sources": ["openweather"]},
        "responsePayload": {
            "landed": 3,
            "transform": {"select": "tracked_cities source:gans_raw.openweather_forecasts+"},
        },
    }
    step = transform_handler.plan(record)
    assert transform_handler.dbt_args(step) == [
        "build",
        "--select",
        "tracked_cities",
        "source:gans_raw.openweather_forecasts+",
    ]
    nothing_new = {**record, "responsePayload": {**record["responsePayload"], "landed": 0}}
    assert transform_handler.plan(nothing_new) is None
    assert transform_handler.handler(nothing_new)["skipped"] is True
    assert transform_handler.plan({}) == {"command": "build", "select": None, "exclude": None, "full_refresh": False}
    with pytest.raises(transform_handler.BadTransformEvent, match="command"):
        transform_handler.plan({"command": "run-operation"})


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.dbt
def test_transform_builds_the_marts_on_a_read_only_project(aws, settings, recordings, tmp_path, monkeypatch):
    from dbt_helpers import marts_the_recordings_fill

    from extract.runner import replay
    from transform.dbt_runner import MARTS

    monkeypatch.setenv("DBT_LOG_LEVEL_FILE", "")  # the function's own default, whatever a .env says
    landed = replay(settings, recordings)
    assert landed.ok, [r.messages for r in landed.results]

    # the image: the project read-only, parsed at build time into a baked target folder
    project = tmp_path / "image" / "dbt_project"
    shutil.copytree(PROJECT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    baked = tmp_path / "image" / "dbt_target"
    monkeypatch.setenv("GANS_DBT_PROJECT_DIR", str(project))
    monkeypatch.setenv("GANS_DBT_BAKED_TARGET", str(baked))
    monkeypatch.setenv("GANS_DBT_WORK_DIR", str(tmp_path / "build-tmp"))
    monkeypatch.setenv("GANS_DBT_PASSWORD", "")  # the build has no database access
    transform_handler.bake(baked)
    monkeypatch.delenv("GANS_DBT_PASSWORD")
    assert (baked / transform_handler.PARTIAL_PARSE_FILE).exists()
    for path in [project, *project.rglob("*"), baked, *baked.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    before = _tree(project)

    # the function: a fresh container whose only writable folder is the work dir
    work = tmp_path / "lambda-tmp"
    monkeypatch.setenv("GANS_DBT_WORK_DIR", str(work))
    record = {
        "requestContext": {"condition": "Success"},
        "requestPayload": scheduler_event("gans-forecasts", "2026-11-21T15:05:00Z", ["openweather"]),
        "responsePayload": {"ok": True, "landed": sum(r.landed for r in landed.results), "transform": {}},
    }
    record["responsePayload"]["transform"] = {"select": None, "force": False}
    try:
        report = transform_handler.handler(record, None)
        assert report["success"] is True
        assert report["cold_start"] is True
        assert report["parse"] == "partial", report  # the baked parse was reused, not redone
        assert report["statuses"]["test"].get("fail", 0) == 0
        assert report["statuses"]["test"].get("error", 0) == 0
        assert report["statuses"]["model"].get("success", 0) >= len(MARTS)
        for mart in marts_the_recordings_fill(MARTS):  # no Open-Meteo or GBFS responses in ../shared/recordings
            assert report["mart_rows"][mart], (mart, report["mart_rows"])
        assert (
            _count(settings, f"select count(*) from `{settings.marts_database}`.weather_forecasts")
            == (report["mart_rows"]["weather_forecasts"])
        )

        # a warm invocation with a schedule's selector
        warm = transform_handler.handler({"select": "tracked_cities source:gans_raw.openweather_forecasts+"}, None)
        assert warm["success"] is True and warm["cold_start"] is False
        assert warm["statuses"]["model"]["success"] < report["statuses"]["model"]["success"]
    finally:
        for path in [project, *project.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)

    assert _tree(project) == before  # nothing written into the project
    assert (work / "target" / "manifest.json").exists()
    # dbt's file log is off in the function unless its environment sets DBT_LOG_LEVEL_FILE
    assert not (work / "logs" / "dbt.log").exists()


def test_transform_failure_raises(aws, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("GANS_DBT_PROJECT_DIR", str(PROJECT / "dbt_project"))
    monkeypatch.setenv("GANS_DBT_BAKED_TARGET", str(tmp_path / "none"))
    monkeypatch.setenv("GANS_DBT_WORK_DIR", str(tmp_path / "work"))
    client, arns = aws
    client.put_secret_value(
        SecretId=arns["dbt"], SecretString=json.dumps({"username": settings.dbt_user, "password": "wrong"})
    )
    aws_secrets.clear_cache()
    with pytest.raises(transform_handler.TransformFailed):
        transform_handler.handler({"select": "tracked_cities"}, None)


def test_bootstrap_handler_creates_users_and_migrates(aws, settings, monkeypatch):
    client, arns = aws
    admin = {"username": settings.admin_user, "password": settings.admin_password.get_secret_value()}
    admin_arn = client.create_secret(Name="gans/db/admin", SecretString=json.dumps(admin))["ARN"]
    monkeypatch.setenv("GANS_DB_SECRET_ADMIN", admin_arn)
    new_password = "Rotated" + hashlib.sha1(str(datetime.now(UTC)).encode()).hexdigest()[:16]
    analyst = {"username": settings.analyst_user, "password": new_password}
    monkeypatch.setenv(
        "GANS_DB_SECRET_ANALYST", client.create_secret(Name="gans/db/analyst", SecretString=json.dumps(analyst))["ARN"]
    )
    from gans_lambda import bootstrap_handler

    report = bootstrap_handler.handler({}, None)
    assert report["migrations_applied"] == []  # the settings fixture migrated already
    assert report["schema_version"] == max(m.version for m in db.migrations())
    # the analyst's password is now the secret's
    conn = db.connect(Settings(analyst_password=new_password), "analyst", database=settings.marts_database)
    conn.close()


def test_every_invocation_logs_each_sources_freshness_and_counts(aws, settings, recorded_apis, caplog):
    from extract.sources import SOURCES

    caplog.set_level("INFO")
    event = scheduler_event("gans-forecasts", "2026-11-21T15:05:00Z", ["openweather"])
    result = extract_handler.handler(event, None)
    assert result["ok"] is True
    # what the template's metric filter reads: one line per source, hours since its last success
    freshness = {
        r.source: r.hours_since_success for r in caplog.records if getattr(r, "event", None) == "source_freshness"
    }
    assert set(freshness) == set(SOURCES)
    assert 0 <= freshness["openweather"] < 0.1  # succeeded just now
    for source in set(SOURCES) - {"openweather"}:
        assert freshness[source] == extract_handler.NEVER_SUCCEEDED_HOURS  # never ran on this database
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "extract_source"]
    assert (line.source, line.status, line.landed, line.run_id) == (
        "openweather",
        "succeeded",
        result["landed"],
        result["sources"][0]["run_id"],
    )
    assert line.name == "gans_lambda.extract_handler"
