"""AeroDataBox (RapidAPI): airports near a city, and the flights (FIDS) of an airport in a local time window.

Both land the whole JSON payload. The API key goes in the ``X-RapidAPI-Key`` header
(with ``X-RapidAPI-Host``), added by the HTTP client and never recorded.

Airports: ``GET {base}/airports/search/location?lat&lon&radiusKm&limit&withFlightInfoOnly``,
key ``{"city": <name>}``. Accepted shapes: ``{"items": [...]}`` (2022) and
``{"searchBy": {...}, "count": n, "items": [...]}`` (2023 on; ``timeZone`` on items from
2024-09). Items without ``icao`` are kept in the payload but yield no flights request.

Flights: ``GET {base}/flights/airports/icao/{ICAO}/{from_local}/{to_local}`` with
``withLeg=true, direction=Arrival`` (default), ``withCancelled, withCodeshared, withCargo=true``,
``withPrivate=false, withLocation=false``; key ``{"airport_icao", "from_local", "to_local"}``,
local times of the airport formatted ``YYYY-MM-DDTHH:MM``. A window is at most 12 hours
(:func:`split_window` splits longer spans). HTTP 204 means no flights and lands as ``{}``
with status 204.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo
from typing import Any

from extract.loader import LandingRow
from extract.sources import Fetched, ParseError, RequestSpec, load_json, require

SOURCE_AIRPORTS = "aerodatabox_airports"
SOURCE_FLIGHTS = "aerodatabox_flights"
AIRPORT_KEY_FIELDS = ("city",)
FLIGHT_KEY_FIELDS = ("airport_icao", "from_local", "to_local")
REQUIRED_SETTINGS = ("aerodatabox_api_key",)
DEFAULT_HOST = "aerodatabox.p.rapidapi.com"
MAX_WINDOW = timedelta(hours=12)
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
DIRECTIONS = ("Arrival", "Departure", "Both")


def auth_headers(api_key: str, host: str = DEFAULT_HOST) -> dict[str, str]:
    """The RapidAPI headers for ``api_key`` (sent by the client, never recorded)."""
    return {"X-RapidAPI-Key": api_key, "X-RapidAPI-Host": host}


def airports_request(
    city: str, latitude: float, longitude: float, radius_km: int, limit: int, base_url: str
) -> RequestSpec:
    """Airports with flight information within ``radius_km`` km of (``latitude``, ``longitude``), at most ``limit``."""
    params = {"lat": latitude, "lon": longitude, "radiusKm": radius_km, "limit": limit, "withFlightInfoOnly": "true"}
    return RequestSpec(SOURCE_AIRPORTS, {"city": city}, f"{base_url.rstrip('/')}/airports/search/location", params)


def flights_request(
    icao: str, from_local: datetime, to_local: datetime, base_url: str, direction: str = "Arrival"
) -> RequestSpec:
    """FIDS of airport ``icao`` between two naive or aware local times (wall clock of the airport), <= 12 h apart."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    start, end = from_local.strftime(LOCAL_FORMAT), to_local.strftime(LOCAL_FORMAT)
    span = to_local.replace(tzinfo=None) - from_local.replace(tzinfo=None)
    if span > MAX_WINDOW or span <= timedelta(0):
        raise ValueError(f"flight window {start}..{end} must be positive and at most 12 hours")
    params = {
        "withLeg": "true",
        "direction": direction,
        "withCancelled": "true",
        "withCodeshared": "true",
        "withCargo": "true",
        "withPrivate": "false",
        "withLocation": "false",
    }
    key = {"airport_icao": icao, "from_local": start, "to_local": end}
    url = f"{base_url.rstrip('/')}/flights/airports/icao/{icao}/{start}/{end}"
    return RequestSpec(SOURCE_FLIGHTS, key, url, params)


def split_window(start: datetime, end: datetime, zone: tzinfo) -> Iterator[tuple[datetime, datetime]]:
    """Split the aware span ``start``..``end`` into local windows (in ``zone``) of at most 12 hours.

    Yields aware ``(from_local, to_local)`` pairs in ``zone``; each piece is at most 12 h
    both in elapsed time and on the local wall clock (DST days).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("window bounds must be timezone-aware")
    current = start.astimezone(zone)
    end = end.astimezone(zone)
    while current < end:
        nxt = min(end, (current + MAX_WINDOW).astimezone(zone))
        wall = nxt.replace(tzinfo=None) - current.replace(tzinfo=None)
        if wall > MAX_WINDOW:
            nxt = (nxt - (wall - MAX_WINDOW)).astimezone(zone)
        yield current, nxt
        current = nxt


def airport_icaos(payload: Any) -> list[dict[str, Any]]:
    """``[{"icao", "timezone"}]`` of the airports in a search payload (items without ICAO left out)."""
    out = []
    for item in validate_airports(payload)["items"]:
        icao = item.get("icao")
        if isinstance(icao, str) and icao:
            out.append({"icao": icao, "timezone": item.get("timeZone")})
    return out


def validate_airports(payload: Any) -> dict:
    """Check an airport search payload (``items``, optionally ``searchBy``/``count``); :class:`ParseError` if not."""
    if not isinstance(payload, dict):
        raise ParseError(f"payload should be a JSON object, got {type(payload).__name__}")
    items = require(payload, "items", list)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ParseError(f"items[{index}] should be an object")
    if "count" in payload and not isinstance(payload["count"], int):
        raise ParseError("payload: 'count' should be int")
    return payload


def validate_flights(payload: Any) -> dict:
    """Check a FIDS payload: ``departures``/``arrivals`` lists of flight objects; :class:`ParseError` if not."""
    if not isinstance(payload, dict):
        raise ParseError(f"payload should be a JSON object, got {type(payload).__name__}")
    boards = [name for name in ("departures", "arrivals") if name in payload]
    if not boards:
        raise ParseError("payload: missing key 'departures' and 'arrivals'")
    for board in boards:
        flights = require(payload, board, list)
        for index, flight in enumerate(flights):
            where = f"{board}[{index}]"
            if not isinstance(flight, dict):
                raise ParseError(f"{where} should be an object")
            if not any(side in flight for side in ("departure", "arrival", "movement")):
                raise ParseError(f"{where}: missing key 'departure'/'arrival'/'movement'")
    return payload


def parse_airports(fetched: Fetched) -> list[LandingRow]:
    """One landing row holding the whole airport search; :class:`ParseError` unless a valid 200 response."""
    if fetched.status != 200:
        raise ParseError(f"HTTP {fetched.status}, expected 200")
    payload = validate_airports(load_json(fetched))
    return [LandingRow(SOURCE_AIRPORTS, dict(fetched.key), fetched.params, fetched.fetched_at, 200, payload)]


def parse_flights(fetched: Fetched) -> list[LandingRow]:
    """One landing row for a FIDS window: the whole payload, or ``{}`` for HTTP 204 (no flights)."""
    for name in FLIGHT_KEY_FIELDS:
        if not isinstance(fetched.key.get(name), str):
            raise ParseError(f"request key {fetched.key!r} lacks {name!r}")
    if fetched.status == 204:
        payload: dict = {}
    elif fetched.status == 200:
        payload = validate_flights(load_json(fetched))
    else:
        raise ParseError(f"HTTP {fetched.status}, expected 200 or 204")
    return [LandingRow(SOURCE_FLIGHTS, dict(fetched.key), fetched.params, fetched.fetched_at, fetched.status, payload)]
