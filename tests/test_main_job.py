"""The main job (`make run RECORDINGS=...`): replay, load, dbt build, summary; twice.

Runs the `pipeline` command in-process, as `make run` does, against the test MariaDB.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from db_helpers import scalar
from dbt_helpers import mart_checksums, marts_the_recordings_fill

from extract.settings import Settings
from gans.cli import cli
from transform.dbt_runner import MARTS


def _marts(settings: Settings) -> dict[str, tuple[int, str]]:
    return mart_checksums(settings, MARTS)


def _landing_rows(settings: Settings) -> int:
    return int(
        scalar(
            settings,
            "select (select count(*) from wikipedia_city_pages) + (select count(*) from openweather_forecasts)"
            " + (select count(*) from aerodatabox_airports) + (select count(*) from aerodatabox_flights)",
            role="loader",
        )
    )


@pytest.mark.dbt
def test_main_job_replays_builds_and_is_idempotent(settings, recordings, tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    runner = CliRunner()
    first = runner.invoke(cli, ["pipeline", "--replay", str(recordings)], obj={})
    assert first.exit_code == 0, first.output
    entries = sum(1 for line in (recordings / "manifest.jsonl").read_text().splitlines() if line.strip())
    assert _landing_rows(settings) == entries
    assert "dbt succeeded" in first.output and "rows per mart" in first.output
    marts = _marts(settings)
    # ../shared/recordings has no Open-Meteo or GBFS responses: their marts stay empty
    assert [mart for mart in marts_the_recordings_fill(marts) if marts[mart][0] == 0] == []
    assert marts["weather_hourly_forecasts"][0] == 0

    second = runner.invoke(cli, ["pipeline", "--replay", str(recordings)], obj={})
    assert second.exit_code == 0, second.output
    assert _landing_rows(settings) == entries  # nothing landed twice
    assert _marts(settings) == marts  # no mart row changed


def test_main_job_live_without_keys_names_the_setting(settings, monkeypatch):
    monkeypatch.setenv("OPENWEATHER_API_KEY", "")
    monkeypatch.setenv("AERODATABOX_API_KEY", "")
    result = CliRunner().invoke(cli, ["pipeline", "--sources", "openweather"], obj={})
    assert result.exit_code != 0
    assert "OPENWEATHER_API_KEY" in result.output
