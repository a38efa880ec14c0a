"""OpenWeather forecast parsing and request building, on every recording and on broken payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from landing_helpers import recorded_rows

from extract.recording import read_manifest
from extract.response import Response
from extract.sources import ParseError
from extract.sources.openweather import forecast_request, parse

# facts read off the captures: (file, city.name, city.timezone, first slot dt_txt, first slot main.temp)
FACTS = [
    ("openweather/berlin_2022-10-07.json", "Berlin", 7200, "2022-10-07 18:00:00", 13.81),
    ("openweather/berlin_2024-03-13.json", "Berlin", 3600, "2024-03-13 12:00:00", 13.58),
    ("openweather/berlin_2024-06-18.json", "Tiergarten", 7200, "2024-06-18 12:00:00", 25.92),
    ("openweather/lisbon_2024-06-18.json", "São Sebastião da Pedreira", 3600, "2024-06-18 12:00:00", 20.61),
    ("openweather/munich_2024-06-18.json", "Altstadt", 7200, "2024-06-18 12:00:00", 28.01),
]


def _fetched(body: bytes, status: int = 200) -> Response:
    return Response(
        "openweather",
        {"city": "Berlin"},
        "GET",
        "https://api.openweathermap.org/data/2.5/forecast",
        {"lat": 52.52, "lon": 13.405, "units": "imperial"},
        datetime(2024, 6, 18, 10, 30, tzinfo=UTC),
        status,
        "application/json",
        body,
    )


@pytest.mark.recordings
def test_every_openweather_recording_parses(recordings):
    parsed = recorded_rows(recordings, "openweather", parse)
    assert len(parsed) == 18
    for entry, row in parsed:
        assert row.request_key == entry.key
        assert row.request_params == entry.response.params and row.request_params["units"] == "metric"
        assert row.payload == json.loads(entry.body_path.read_bytes())  # the whole payload, unchanged
        assert len(row.payload["list"]) == 40


@pytest.mark.recordings
@pytest.mark.parametrize("body, name, offset, first_slot, temp", FACTS)
def test_facts_of_captures(recordings, body, name, offset, first_slot, temp):
    entry = next(e for e in read_manifest(recordings) if e.body == body)
    (row,) = parse(entry.read())
    assert row.payload["city"]["name"] == name
    assert row.payload["city"]["timezone"] == offset
    assert row.payload["list"][0]["dt_txt"] == first_slot
    assert row.payload["list"][0]["main"]["temp"] == temp


def _valid() -> dict:
    return {
        "cod": "200",
        "list": [{"dt": 1718704800, "main": {"temp": 70}, "wind": {"speed": 3}}],  # no rain, gust, visibility
        "city": {"coord": {"lat": 52.5, "lon": 13.4}, "timezone": 7200, "population": 0},
    }


def test_optional_fields_absent_and_units_kept():
    (row,) = parse(_fetched(json.dumps(_valid()).encode()))
    assert row.request_params["units"] == "imperial"
    assert row.http_status == 200


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.pop("list"), "'list'"),
        (lambda p: p["list"][0].pop("dt"), "'dt'"),
        (lambda p: p["list"][0]["main"].pop("temp"), "'main.temp'"),
        (lambda p: p["city"].pop("timezone"), "'city.timezone'"),
        (lambda p: p.pop("city"), "'city'"),
        (lambda p: p["list"][0]["main"].update(temp="warm"), "main.temp"),
        (lambda p: p.update(list=[]), "empty"),
    ],
)
def test_missing_keys_are_parse_errors(mutate, message):
    payload = _valid()
    mutate(payload)
    with pytest.raises(ParseError, match=message):
        parse(_fetched(json.dumps(payload).encode()))


def test_not_json():
    with pytest.raises(ParseError, match="JSON"):
        parse(_fetched(b"<html>"))


@pytest.mark.parametrize("units", ["standard", "metric", "imperial"])
def test_request_carries_units_never_a_key(units):
    spec = forecast_request("Berlin", 52.52, 13.405, units, "http://localhost:9")
    assert spec.url == "http://localhost:9/data/2.5/forecast"
    assert spec.params == {"lat": 52.52, "lon": 13.405, "units": units}


def test_unknown_units_rejected():
    with pytest.raises(ValueError, match="units"):
        forecast_request("Berlin", 1, 2, "kelvin")
