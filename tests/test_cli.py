"""The command line, in-process with click's CliRunner (stdout is not a TTY: plain log lines)."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from test_pipeline import CITIES_CSV, KEY_ADB, KEY_OW, _count, _fake_api

from extract.recording import read_manifest
from extract.sources import REGISTRY, SOURCES
from gans.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["replay", "--help"]])
def test_help(runner, args):
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_help_lists_every_registered_source(runner):
    """The help texts name the sources from the registry, so a new source appears without editing them."""
    for args in (["--help"], ["run", "--help"], ["replay", "--help"]):
        text = " ".join(runner.invoke(cli, args).output.split())
        missing = [name for name in REGISTRY if name not in text]
        assert not missing, (args, missing)


def test_run_help_lists_options(runner):
    text = runner.invoke(cli, ["run", "--help"]).output
    for option in ("--sources", "--cities", "--from", "--to", "--record", "--direction"):
        assert option in text


@pytest.mark.recordings
def test_replay_command_twice(runner, settings, recordings):
    first = runner.invoke(cli, ["replay", str(recordings)])
    assert first.exit_code == 0, first.output
    in_manifest = {e.source for e in read_manifest(recordings)}
    recorded = [s for s in SOURCES if s in in_manifest]
    for source in recorded:
        assert source in first.stdout
    assert re.search(r"total\s.*\b26\b.*\b26\b", first.stdout)  # 26 requests, 26 landed
    second = runner.invoke(cli, ["replay", str(recordings), "--sources", "openweather,wikipedia"])
    assert second.exit_code == 0, second.output
    assert _count(settings, "select count(*) from extract_runs") == len(recorded) + 2
    assert _count(settings, "select sum(rows_duplicate) from extract_runs where id > 4") == 20


def test_replay_with_errors_exits_non_zero(runner, settings, tmp_path):
    from datetime import UTC, datetime

    from extract.recording import Recorder
    from extract.response import Response

    Recorder(tmp_path).record(
        Response(
            "openweather", {"city": "X"}, "GET", "u", {}, datetime(2024, 1, 1, tzinfo=UTC), 503, "text/plain", b"busy"
        )
    )
    result = runner.invoke(cli, ["replay", str(tmp_path)])
    assert result.exit_code == 1
    assert "failed" in result.stdout


def test_replay_bad_manifest_is_a_clear_error(runner, settings, tmp_path):
    (tmp_path / "manifest.jsonl").write_text("{broken\n")
    result = runner.invoke(cli, ["replay", str(tmp_path)])
    assert result.exit_code == 1
    assert "manifest.jsonl:1" in result.output


def test_missing_key_names_the_variable(runner, settings, monkeypatch):
    monkeypatch.setenv("OPENWEATHER_API_KEY", "")
    result = runner.invoke(cli, ["run", "--sources", "openweather"])
    assert result.exit_code == 1
    assert "OPENWEATHER_API_KEY" in result.output
    assert _count(settings, "select count(*) from extract_runs") == 0


def test_unknown_city_and_bad_window(runner, settings):
    result = runner.invoke(cli, ["run", "--sources", "wikipedia", "--cities", "Atlantis"])
    assert result.exit_code == 1 and "Atlantis" in result.output
    result = runner.invoke(cli, ["run", "--sources", "wikipedia", "--from", "2024-01-01"])
    assert result.exit_code == 2 and "--to" in result.output


def test_run_against_fake_api(runner, settings, httpserver, tmp_path, monkeypatch):
    httpserver.expect_request(re.compile(".*")).respond_with_handler(_fake_api)
    cities = tmp_path / "cities.csv"
    cities.write_text(CITIES_CSV, encoding="utf-8")
    for name, value in {
        "GANS_CITIES_FILE": str(cities),
        "OPENWEATHER_API_KEY": KEY_OW,
        "AERODATABOX_API_KEY": KEY_ADB,
        "OPENWEATHER_RATE_PER_MINUTE": "0",
        "AERODATABOX_RATE_PER_MINUTE": "0",
        "GANS_HTTP_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    root = httpserver.url_for("/").rstrip("/")
    base = [f"--base-url={api}={root}" for api in ("wikipedia", "open_meteo", "openweather", "aerodatabox")]
    ok = runner.invoke(
        cli,
        ["run", "--cities", "Berlin", "--from", "2024-05-07T22:00Z", "--to", "2024-05-08T22:00Z", *base],
    )
    assert ok.exit_code == 0, ok.output
    assert _count(settings, "select count(*) from aerodatabox_flights") == 2
    assert KEY_OW not in ok.output and KEY_ADB not in ok.output
    failing = runner.invoke(cli, ["run", "--cities", "Broken", "--sources", "openweather", *base])
    assert failing.exit_code == 1
    assert "openweather" in failing.stdout and "failed" in failing.stdout
