"""Open-Meteo forecast parsing and request building: the real multi-model capture, the documented single-model
shape and broken payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from extract.response import Response
from extract.settings import Settings
from extract.sources import REGISTRY, ParseError
from extract.sources.open_meteo import HOURLY, forecast_request, models_in, parse

CAPTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "captures" / "openmeteo"
CAPTURE = "openmeteo_forecast_multimodel_45.75N12.75E-veneto_2025-11-24_capture-0829Z_TheLuck1987.json"


@pytest.fixture(scope="module")
def capture() -> bytes:
    """The real multi-model Open-Meteo response; skips when ../shared/captures is absent."""
    path = CAPTURES / CAPTURE
    if not path.exists():
        pytest.skip(f"real Open-Meteo capture not found at {path} (it lives in ../shared beside the project)")
    return path.read_bytes()


def single_model_body(hours: int = 3) -> dict:
    """The documented single-model shape (open-meteo.com/en/docs), built here: no model suffix on any key."""
    times = [f"2026-01-05T{h:02d}:00" for h in range(hours)]
    units = {"time": "iso8601", "temperature_2m": "°C", "wind_speed_10m": "m/s", "precipitation": "mm"}
    hourly = {"time": times}
    for name in HOURLY:
        units.setdefault(name, "")
        hourly[name] = [round(0.5 * h, 1) for h in range(hours)]
    hourly["precipitation_probability"] = [None] * hours  # a value the model lacks is null
    return {
        "latitude": 52.52,
        "longitude": 13.419998,
        "generationtime_ms": 0.21,
        "utc_offset_seconds": 0,
        "timezone": "UTC",
        "timezone_abbreviation": "UTC",
        "elevation": 38.0,
        "hourly_units": units,
        "hourly": hourly,
    }


def _fetched(body: bytes, status: int = 200) -> Response:
    spec = forecast_request("Berlin", 52.52, 13.405)
    return Response(
        "open_meteo",
        {"city": "Berlin"},
        "GET",
        spec.url,
        spec.params,
        datetime(2026, 1, 5, 0, 15, tzinfo=UTC),
        status,
        "application/json",
        body,
    )


def test_request_asks_hourly_in_utc_with_fixed_units():
    spec = forecast_request("Berlin", 52.52, 13.405, "http://127.0.0.1:9/", models=" icon_seamless, ecmwf_ifs025 ")
    assert spec.url == "http://127.0.0.1:9/v1/forecast"
    assert spec.key == {"city": "Berlin"}
    assert spec.params["hourly"].split(",") == list(HOURLY)
    assert {k: spec.params[k] for k in ("timezone", "temperature_unit", "wind_speed_unit", "precipitation_unit")} == {
        "timezone": "UTC",
        "temperature_unit": "celsius",
        "wind_speed_unit": "ms",
        "precipitation_unit": "mm",
    }
    assert spec.params["models"] == "icon_seamless,ecmwf_ifs025"
    assert "models" not in forecast_request("Berlin", 52.52, 13.405).params


def test_free_api_by_default_customer_endpoint_with_a_key():
    source = REGISTRY["open_meteo"]
    assert source.required_settings == ()
    free = Settings(_env_file=None, OPEN_METEO_API_KEY="")
    assert source.base_url(free) == "https://api.open-meteo.com"
    assert source.client_options(free)["secret_params"] == {}
    paid = free.model_copy(update={"open_meteo_api_key": SecretStr("k-123")})
    assert source.base_url(paid) == "https://customer-api.open-meteo.com"
    assert source.client_options(paid)["secret_params"] == {"apikey": "k-123"}


def test_documented_single_model_shape_parses():
    body = single_model_body()
    (row,) = parse(_fetched(json.dumps(body).encode()))
    assert row.payload == body and row.request_key == {"city": "Berlin"}
    assert row.request_params["timezone"] == "UTC"
    assert models_in(row.payload) == [""]


def test_real_multi_model_capture_parses_whole(capture):
    (row,) = parse(_fetched(capture))
    payload = row.payload
    assert payload == json.loads(capture)  # landed raw, unchanged
    # facts read off the capture: Veneto, 168 hours from 2025-11-24T00:00 GMT, 12 models
    assert (payload["latitude"], payload["longitude"], payload["utc_offset_seconds"]) == (45.75, 12.75, 0)
    assert payload["hourly"]["time"][0] == "2025-11-24T00:00" and len(payload["hourly"]["time"]) == 168
    models = models_in(payload)
    assert len(models) == 12 and {"icon_d2", "ecmwf_ifs025", "gem_regional"} <= set(models)
    assert payload["hourly"]["temperature_2m_ecmwf_ifs025"][0] == 2.3
    assert payload["hourly_units"]["wind_speed_10m_ecmwf_ifs025"] == "km/h"  # asked without wind_speed_unit
    assert all(v is None for v in payload["hourly"]["temperature_2m_gem_regional"])
    assert payload["hourly_units"]["temperature_2m_gem_regional"] == "undefined"


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda b: b.pop("hourly"), "missing key 'hourly'"),
        (lambda b: b.pop("utc_offset_seconds"), "utc_offset_seconds"),
        (lambda b: b["hourly"].update(time=[]), "'hourly.time' is empty"),
        (lambda b: b["hourly"].update(time=[1, 2, 3]), "should hold strings"),
        (lambda b: b["hourly"]["rain"].pop(), "'hourly.rain' should be a list of 3"),
        (lambda b: b["hourly"].pop("temperature_2m"), "temperature_2m"),
        (lambda b: b.update(latitude="52.5"), "'latitude' should be"),
    ],
)
def test_broken_payloads_are_parse_errors(mutate, problem):
    body = single_model_body()
    mutate(body)
    with pytest.raises(ParseError, match=problem):
        parse(_fetched(json.dumps(body).encode()))


def test_error_body_and_non_json_are_parse_errors():
    error = {"error": True, "reason": "Cannot initialize WeatherVariable from invalid String value tempeture_2m"}
    with pytest.raises(ParseError, match="Open-Meteo error: Cannot initialize"):
        parse(_fetched(json.dumps(error).encode()))
    with pytest.raises(ParseError, match="not valid JSON"):
        parse(_fetched(b"<html>"))
    with pytest.raises(ParseError, match="JSON object"):
        parse(_fetched(b"[]"))
