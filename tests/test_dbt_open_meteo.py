"""dbt on Open-Meteo landing rows, in a real MariaDB, without ../shared: staging of both response shapes,
the hourly forecast mart with local time, and city_hourly_conditions taking Open-Meteo's hours where it has
them and OpenWeather's 3-hour slots otherwise.

The bodies are built here in the documented shapes (Open-Meteo's single-model response, OpenWeather's
forecast); the real multi-model capture of ../shared/captures is staged too when it is there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from db_helpers import query as _query
from dbt_helpers import land
from test_open_meteo import capture  # noqa: F401  (fixture)
from test_pipeline import open_meteo_body

from extract import db
from extract.loader import LandingRow
from extract.settings import Settings
from extract.sources.open_meteo import forecast_request
from transform.dbt_runner import run_dbt

pytestmark = [pytest.mark.dbt, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

FETCHED = datetime(2024, 5, 8, 0, 15, tzinfo=UTC)
OM_HOURS = 24  # 2024-05-08T00:00 .. 23:00 UTC


def _open_meteo_row(city: str, body: dict, fetched_at: datetime = FETCHED, params: dict | None = None) -> LandingRow:
    spec = forecast_request(city, body["latitude"], body["longitude"])
    return LandingRow("open_meteo", {"city": city}, params or spec.params, fetched_at, 200, body)


def _openweather_row(city: str, first_slot: datetime, slots: int, temp: float) -> LandingRow:
    """An OpenWeather forecast in the documented shape: 3-hour slots from ``first_slot``, metric units."""
    items = [
        {
            "dt": int((first_slot + timedelta(hours=3 * i)).timestamp()),
            "main": {"temp": temp, "feels_like": temp - 1, "humidity": 70},
            "wind": {"speed": 4.0, "gust": 6.0, "deg": 200},
            "clouds": {"all": 40},
            "pop": 0.2,
            "rain": {"3h": 1.5},
            "weather": [{"id": 500, "main": "Rain", "description": "light rain"}],
        }
        for i in range(slots)
    ]
    body = {
        "cod": "200",
        "list": items,
        "city": {"name": "Mitte", "coord": {"lat": 52.5, "lon": 13.4}, "timezone": 7200},
    }
    return LandingRow(
        "openweather", {"city": city}, {"lat": 52.52, "lon": 13.405, "units": "metric"}, FETCHED, 200, body
    )


@pytest.fixture(scope="module")
def built(mariadb, tmp_path_factory):
    settings = Settings()
    db.bootstrap(settings, reset=True)
    berlin = open_meteo_body(52.52, 13.405, OM_HOURS)
    berlin["hourly"]["temperature_2m"] = [10.0 + h / 2 for h in range(OM_HOURS)]
    berlin["hourly"]["precipitation"] = [0.8] * OM_HOURS
    berlin["hourly"]["rain"] = [0.3] * OM_HOURS
    berlin["hourly"]["showers"] = [0.2] * OM_HOURS
    berlin["hourly"]["precipitation_probability"] = [50] * OM_HOURS
    land(settings, [_open_meteo_row("Berlin", berlin)])
    # OpenWeather: from 2024-05-08T18:00 UTC for 12 hours, 6 hours past Open-Meteo's last hour
    land(settings, [_openweather_row("Berlin", datetime(2024, 5, 8, 18, tzinfo=UTC), 4, 21.0)])
    paths = tmp_path_factory.mktemp("dbt_open_meteo")
    kwargs = {"target_path": paths / "target", "log_path": paths / "logs", "profiles_dir": paths / "profiles"}
    result = run_dbt(["build"], settings, **kwargs)
    return {"settings": settings, "result": result, "kwargs": kwargs}


def test_build_is_green_without_wikipedia_or_flights(built):
    result = built["result"]
    failed = [(r.node.name, r.status, r.message) for r in result.result.results if r.status not in ("success", "pass")]
    assert result.success and not failed, failed


def test_hourly_mart_has_every_hour_with_local_time(built):
    rows = _query(
        built["settings"],
        "select forecast_hour_utc, local_date, local_hour, timezone, model, temperature_c, wind_speed_m_s"
        " from weather_hourly_forecasts order by forecast_hour_utc",
    )
    assert len(rows) == OM_HOURS
    first, last = rows[0], rows[-1]
    # Berlin is on CEST (UTC+2) in May: 00:00 UTC is 02:00 local, 23:00 UTC is 01:00 the next day
    assert first[:5] == (datetime(2024, 5, 8, 0), datetime(2024, 5, 8).date(), 2, "Europe/Berlin", "best_match")
    assert last[:3] == (datetime(2024, 5, 8, 23), datetime(2024, 5, 9).date(), 1)
    assert first[5] == Decimal("10.00") and last[5] == Decimal("21.50")
    assert last[6] == Decimal("23.00")  # m/s as asked: unchanged
    # "tomorrow morning in Berlin" (from 2024-05-08) is one where
    morning = _query(
        built["settings"],
        "select count(*) from weather_hourly_forecasts"
        " where local_date = date '2024-05-08' + interval 1 day and local_hour between 0 and 1",
    )
    assert morning == [(2,)]


def test_conditions_take_open_meteo_hours_then_openweather_slots(built):
    rows = _query(
        built["settings"],
        "select hour_utc, weather_source, weather_model, temperature_c, rain_mm_per_h, snow_mm_per_h,"
        " precipitation_probability, local_hour from city_hourly_conditions order by hour_utc",
    )
    sources = {hour: source for hour, source, *_ in rows}
    om_hours = [datetime(2024, 5, 8, 0) + timedelta(hours=h) for h in range(OM_HOURS)]
    ow_only = [datetime(2024, 5, 9, 0) + timedelta(hours=h) for h in range(6)]  # slots of 00:00 and 03:00 UTC
    assert sorted(sources) == om_hours + ow_only
    assert all(sources[h] == "open_meteo" for h in om_hours)
    assert all(sources[h] == "openweather" for h in ow_only)
    by_hour = {r[0]: r for r in rows}
    # 18:00 UTC has both sources: Open-Meteo's hourly value wins
    assert by_hour[datetime(2024, 5, 8, 18)][1:7] == (
        "open_meteo",
        "best_match",
        Decimal("19.00"),
        Decimal("0.50"),  # rain + showers
        Decimal("0.30"),  # precipitation - rain - showers
        Decimal("0.500"),
    )
    assert by_hour[datetime(2024, 5, 9, 0)][1:7] == (
        "openweather",
        None,
        Decimal("21.00"),
        Decimal("0.50"),
        0,
        Decimal("0.200"),
    )
    assert by_hour[datetime(2024, 5, 9, 0)][7] == 2  # 02:00 in Berlin


def _reconciliation(settings: Settings, source: str) -> dict[int, tuple[int, int, int]]:
    rows = _query(
        settings,
        "select landing_id, records_in_payload, records_staged, records_rejected from landing_reconciliation"
        " where source_name = %s",
        (source,),
    )
    return {landing_id: (records, staged, rejected) for landing_id, records, staged, rejected in rows}


def test_bad_hours_are_rejected_with_reasons_and_reconcile(built):
    settings = built["settings"]
    body = open_meteo_body(53.55, 10.0, OM_HOURS)
    hourly = body["hourly"]
    hourly["time"][0] = "soon"  # no ISO hour
    hourly["temperature_2m"][1] = None  # no forecast for this hour
    hourly["cloud_cover"][2] = 250  # out of range
    hourly["wind_speed_10m"][3] = "fast"  # no number
    land(settings, [_open_meteo_row("Hamburg", body, FETCHED + timedelta(hours=1))])
    result = run_dbt(["build"], settings, **built["kwargs"])
    failed = [(r.node.name, r.status, r.message) for r in result.result.results if r.status not in ("success", "pass")]
    assert result.success and not failed, failed  # assert_landing_records_reconcile among them

    [(hamburg_id,)] = _query(
        settings, "select landing_id from landing_rejects where source_name = 'open_meteo' group by landing_id"
    )
    reconciled = _reconciliation(settings, "open_meteo")
    # one model series (temperature_2m) x 24 hours; the four crafted hours rejected, the rest staged
    assert reconciled[hamburg_id] == (OM_HOURS, OM_HOURS - 4, 4)
    assert all(records == staged + rejected for records, staged, rejected in reconciled.values())
    rejects = _query(
        settings,
        "select record_path, reject_reason from landing_rejects where source_name = 'open_meteo' and landing_id = %s"
        " order by record_path",
        (hamburg_id,),
    )
    assert rejects == [
        ("$.hourly.temperature_2m[0]", "$.hourly.time not an ISO hour"),
        ("$.hourly.temperature_2m[1]", "temperature_2m null: no forecast for this model and hour"),
        ("$.hourly.temperature_2m[2]", "cloud_cover out of range"),
        ("$.hourly.temperature_2m[3]", "wind_speed_10m not a number"),
    ]
    # the good hours of the same response reach the mart
    [(hours,)] = _query(settings, "select count(*) from weather_hourly_forecasts where city_id = ("
                                  "select city_id from cities where city_name = 'Hamburg')")  # fmt: skip
    assert hours == OM_HOURS - 4
    health = _query(
        settings,
        "select sum(records_in_payload), sum(records_staged), sum(records_rejected) from source_health"
        " where source_name = 'open_meteo'",
    )
    assert health == [tuple(Decimal(sum(v[i] for v in reconciled.values())) for i in range(3))]


def test_multi_model_capture_stages_one_row_per_model_and_hour(built, capture):  # noqa: F811
    settings = built["settings"]
    body = json.loads(capture)
    # the capture's request is not known; land it with the parameters its hourly keys show (no unit parameters)
    params = {"latitude": 45.75, "longitude": 12.75, "timezone": "GMT", "models": "ecmwf_ifs025,icon_d2"}
    land(settings, [_open_meteo_row("Veneto", body, FETCHED, params)])
    # the base model is a table: the new landing row is parsed by the next build
    assert run_dbt(["run", "--select", "base_open_meteo__hours"], settings, **built["kwargs"]).success
    staging = settings.staging_database
    per_model = {
        m: (n, lo, hi)
        for m, n, lo, hi in _query(
            settings,
            "select model, count(*), min(forecast_hour_utc), max(forecast_hour_utc) from stg_open_meteo__forecasts"
            " where city_name = 'Veneto' group by model order by model",
            database=staging,
        )
    }
    (ecmwf_first,) = _query(
        settings,
        "select temperature_c, wind_speed_m_s, precipitation_probability_pct from stg_open_meteo__forecasts"
        " where city_name = 'Veneto' and model = 'ecmwf_ifs025' and hour_index = 1",
        database=staging,
    )
    # facts read off the capture: 12 models, two of them (gem_regional, bom_access_global) all null;
    # icon_d2 has 55 hours with a temperature, ecmwf_ifs025 all 168
    assert len(per_model) == 10 and "gem_regional" not in per_model and "bom_access_global" not in per_model
    assert per_model["ecmwf_ifs025"] == (168, datetime(2025, 11, 24, 0), datetime(2025, 11, 30, 23))
    assert per_model["icon_d2"][0] == 55
    # first ecmwf_ifs025 hour: 2.3 °C, wind 8.6 km/h -> 2.39 m/s, precipitation probability 0 %
    assert ecmwf_first == (Decimal("2.30"), Decimal("2.39"), 0)


def test_multi_model_capture_reconciles(built, capture):  # noqa: F811
    settings = built["settings"]
    db.bootstrap(settings, reset=True)  # the capture alone (the last test: it empties the database)
    body = json.loads(capture)
    params = {"latitude": 45.75, "longitude": 12.75, "timezone": "GMT", "models": "ecmwf_ifs025,icon_d2"}
    land(settings, [_open_meteo_row("Veneto", body, FETCHED, params)])
    # cautious: only the tests all of whose parents are built here (the capture is of no tracked city)
    select = ["--select", "+landing_reconciliation", "+source_health", "--indirect-selection", "cautious"]
    result = run_dbt(["build", *select], settings, **built["kwargs"])
    names = {r.node.name for r in result.result.results}
    failed = [(r.node.name, r.status, r.message) for r in result.result.results if r.status not in ("success", "pass")]
    assert result.success and not failed, failed
    assert "assert_landing_records_reconcile" in names
    # read off the capture: 168 hours x 12 model series = 2016 records; 1154 (hour, model) pairs have a
    # temperature (ecmwf_ifs025, gfs_global, ecmwf_ifs, icon_global 168 each; cma_grapes_global 123,
    # meteofrance_arpege_europe 103, italia_meteo_arpae_icon_2i 73, knmi 65, dmi 63, icon_d2 55; gem_regional
    # and bom_access_global none); the other 862 are rejects for the missing temperature
    [(records, staged, rejected)] = _reconciliation(settings, "open_meteo").values()
    assert (records, staged, rejected) == (2016, 1154, 862)
    reasons = _query(
        settings,
        "select reject_reason, count(*) from landing_rejects where source_name = 'open_meteo' group by reject_reason",
    )
    assert reasons == [("temperature_2m null: no forecast for this model and hour", 862)]
