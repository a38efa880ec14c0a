"""AeroDataBox airports and flights parsing, request building and window splitting."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from landing_helpers import recorded_rows

from extract.response import Response
from extract.sources import ParseError
from extract.sources.aerodatabox import (
    airport_icaos,
    airports_request,
    flights_request,
    parse_airports,
    parse_flights,
    split_window,
)

BERLIN = ZoneInfo("Europe/Berlin")


def _fetched(source, key, payload, status=200) -> Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Response(
        source, key, "GET", "u", {}, datetime(2024, 5, 8, 9, 30, tzinfo=UTC), status, "application/json", body
    )


# facts read off the captures: airports per body, with timeZone only in the 2024-09 generation
AIRPORT_FACTS = {
    "aerodatabox_airports/berlin_2022-10.json": [
        {"icao": "EDDB", "timezone": None},
        {"icao": "EDDT", "timezone": None},
    ],
    "aerodatabox_airports/hamburg_2022-10.json": [{"icao": "EDDH", "timezone": None}],
    "aerodatabox_airports/berlin_2024-09.json": [{"icao": "EDDB", "timezone": "Europe/Berlin"}],
}
# (departures, arrivals) per flights capture
FLIGHT_FACTS = {
    "aerodatabox_flights/EDDB_2022-10-07T1400.json": (120, 140),
    "aerodatabox_flights/EDDB_2024-03-12T0000.json": (111, 79),
    "aerodatabox_flights/EDDB_2024-05-08T1200.json": (205, 230),
}


@pytest.mark.recordings
def test_every_airports_recording_parses(recordings):
    parsed = recorded_rows(recordings, "aerodatabox_airports", parse_airports)
    assert sorted(entry.body for entry, _ in parsed) == sorted(AIRPORT_FACTS)
    for entry, row in parsed:
        assert row.payload == json.loads(entry.body_path.read_bytes())
        assert airport_icaos(row.payload) == AIRPORT_FACTS[entry.body]
        assert row.request_params["withFlightInfoOnly"] == "true"


@pytest.mark.recordings
def test_every_flights_recording_parses(recordings):
    parsed = recorded_rows(recordings, "aerodatabox_flights", parse_flights)
    assert sorted(entry.body for entry, _ in parsed) == sorted(FLIGHT_FACTS)
    for entry, row in parsed:
        assert row.request_key == entry.key and set(row.request_key) == {"airport_icao", "from_local", "to_local"}
        assert (len(row.payload["departures"]), len(row.payload["arrivals"])) == FLIGHT_FACTS[entry.body]
        # the recordings fetched both directions: no direction parameter
        assert "direction" not in row.request_params and row.request_params["withLeg"] == "true"


def test_three_airport_generations():
    items = [{"icao": "EDDB", "name": "Berlin, Berlin Brandenburg"}, {"iata": "XXX", "name": "no icao"}]
    for payload in (
        {"items": items},
        {"searchBy": {"lat": 1, "lon": 2}, "count": 2, "items": items},
        {"searchBy": {"lat": 1, "lon": 2}, "count": 2, "items": [{**items[0], "timeZone": "Europe/Berlin"}]},
    ):
        (row,) = parse_airports(_fetched("aerodatabox_airports", {"city": "Berlin"}, payload))
        assert [a["icao"] for a in airport_icaos(row.payload)] == ["EDDB"]


@pytest.mark.parametrize("payload", [{"searchBy": {}}, [], {"items": [1]}, {"items": "x"}])
def test_bad_airports_payloads(payload):
    with pytest.raises(ParseError):
        parse_airports(_fetched("aerodatabox_airports", {"city": "Berlin"}, payload))


KEY = {"airport_icao": "EDDB", "from_local": "2024-05-08T12:00", "to_local": "2024-05-09T00:00"}


def test_204_lands_as_empty_result():
    (row,) = parse_flights(_fetched("aerodatabox_flights", KEY, b"", status=204))
    assert (row.payload, row.http_status) == ({}, 204)


def test_arrivals_only_and_movement_shape():
    payload = {"arrivals": [{"movement": {"airport": {"name": "Unknown"}}, "number": "FR 1143"}]}
    (row,) = parse_flights(_fetched("aerodatabox_flights", KEY, payload))
    assert row.payload == payload


@pytest.mark.parametrize("payload", [{}, {"arrivals": [{"number": "X 1"}]}, {"arrivals": {}}])
def test_bad_flights(payload):
    with pytest.raises(ParseError):
        parse_flights(_fetched("aerodatabox_flights", KEY, payload))


def test_flights_request_defaults():
    start = datetime(2024, 5, 8, 12, 0, tzinfo=BERLIN)
    spec = flights_request("EDDB", start, start + timedelta(hours=12), "http://h")
    assert spec.key == KEY
    assert spec.url == "http://h/flights/airports/icao/EDDB/2024-05-08T12:00/2024-05-09T00:00"
    assert spec.params == {
        "withLeg": "true",
        "direction": "Arrival",
        "withCancelled": "true",
        "withCodeshared": "true",
        "withCargo": "true",
        "withPrivate": "false",
        "withLocation": "false",
    }
    with pytest.raises(ValueError, match="12 hours"):
        flights_request("EDDB", start, start + timedelta(hours=13), "http://h")


def test_airports_request():
    spec = airports_request("Berlin", 52.52, 13.405, 50, 10, "http://h/")
    assert spec.url == "http://h/airports/search/location"
    assert spec.params == {"lat": 52.52, "lon": 13.405, "radiusKm": 50, "limit": 10, "withFlightInfoOnly": "true"}


def test_split_window_day_into_halves():
    start = datetime(2024, 5, 8, tzinfo=BERLIN)
    pieces = list(split_window(start, start + timedelta(days=1), BERLIN))
    assert [(a.strftime("%Y-%m-%dT%H:%M"), b.strftime("%Y-%m-%dT%H:%M")) for a, b in pieces] == [
        ("2024-05-08T00:00", "2024-05-08T12:00"),
        ("2024-05-08T12:00", "2024-05-09T00:00"),
    ]


@pytest.mark.parametrize("day", [datetime(2024, 3, 31), datetime(2024, 10, 27), datetime(2024, 6, 1)])
def test_split_window_dst_days_stay_within_12_hours(day):
    start = day.replace(tzinfo=BERLIN)
    end = (day + timedelta(days=1)).replace(tzinfo=BERLIN)
    pieces = list(split_window(start, end, BERLIN))
    assert pieces[0][0] == start and pieces[-1][1] == end
    for (a, b), nxt in zip(pieces, pieces[1:] + [None], strict=True):
        assert b - a <= timedelta(hours=12)
        assert b.replace(tzinfo=None) - a.replace(tzinfo=None) <= timedelta(hours=12)
        if nxt is not None:
            assert nxt[0] == b
