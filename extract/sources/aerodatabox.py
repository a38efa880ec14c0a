"""AeroDataBox (RapidAPI): airports near a city, and the flights (FIDS) of an airport in a local time window.

Two sources sharing one API (one HTTP client and rate budget): ``aerodatabox_airports``
(landing table ``aerodatabox_airports``) and ``aerodatabox_flights`` (``aerodatabox_flights``);
staged by ``stg_aerodatabox__airports`` and ``stg_aerodatabox__flights``.

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

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from extract.instants import coming_day
from extract.loader import LandingRow
from extract.response import RequestSpec, Response
from extract.sources.base import ParseError, RunContext, Source, load_json, require

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
    return RequestSpec(Airports.name, {"city": city}, f"{base_url.rstrip('/')}/airports/search/location", params)


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
    return RequestSpec(Flights.name, key, url, params)


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


class _AeroDataBox(Source):
    """What both AeroDataBox sources share: the API, its key and host header, its rate budget."""

    required_settings = ("aerodatabox_api_key",)
    api = "aerodatabox"
    base_url_setting = "aerodatabox_base_url"

    def base_url(self, settings) -> str:
        """``AERODATABOX_BASE_URL``, else ``https://`` + ``AERODATABOX_HOST``."""
        return (settings.aerodatabox_base_url or "https://" + settings.aerodatabox_host).rstrip("/")

    def client_options(self, settings) -> dict:
        key = settings.aerodatabox_api_key.get_secret_value()
        return {
            "headers": {**auth_headers(key, settings.aerodatabox_host), "Accept": "application/json"},
            "rate_per_minute": settings.aerodatabox_rate_per_minute,
        }


class Airports(_AeroDataBox):
    """Airports near each tracked city (key ``{"city"}``); feeds the flights requests of the same call."""

    name = "aerodatabox_airports"
    landing_table = "aerodatabox_airports"
    key_fields = ("city",)
    schedule = "cron(30 3 ? * MON *)"

    def requests(self, ctx: RunContext) -> Iterable[RequestSpec]:
        s = ctx.settings
        return [
            airports_request(c.name, c.latitude, c.longitude, s.airport_radius_km, s.airport_limit, ctx.base_url)
            for c in ctx.cities
        ]

    def parse(self, response: Response) -> list[LandingRow]:
        """One landing row holding the whole airport search; :class:`ParseError` unless a valid search."""
        return [self.row(response, validate_airports(load_json(response)))]

    def landed(self, spec: RequestSpec, rows: list[LandingRow], ctx: RunContext) -> None:
        ctx.state.setdefault("airports", {})[spec.key["city"]] = airport_icaos(rows[0].payload)


class Flights(_AeroDataBox):
    """Arrivals (FIDS) of each airport of the tracked cities, in local windows of at most 12 h.

    The airports are those found by ``aerodatabox_airports`` in the same call, else those of the
    latest landed airport search of each city. Default window: the coming day at each airport
    (its ``timeZone``, else the city's). ``options["direction"]``: ``Arrival`` (default),
    ``Departure`` or ``Both``. HTTP 204 (no flights) lands as ``{}``.
    """

    name = "aerodatabox_flights"
    landing_table = "aerodatabox_flights"
    key_fields = ("airport_icao", "from_local", "to_local")
    ok_statuses = frozenset({200, 204})
    schedule = "cron(0 18 * * ? *)"

    def check_options(self, options: dict[str, Any]) -> None:
        direction = options.get("direction", "Arrival")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")

    def requests(self, ctx: RunContext) -> Iterable[RequestSpec]:
        direction = ctx.options.get("direction", "Arrival")
        if Airports.name in ctx.asked:
            by_city = ctx.state.get("airports", {})
        else:
            by_city = latest_airports(ctx.conn, ctx.cities)
        for city in ctx.cities:
            if city.name not in by_city:
                ctx.error(
                    {"city": city.name},
                    "NoAirports",
                    f"no airports known for {city.name}: its airport search failed"
                    " or was never landed (run aerodatabox_airports)",
                )
        return flight_requests(by_city, ctx.cities, ctx.window, ctx.base_url, direction)

    def parse(self, response: Response) -> list[LandingRow]:
        """One landing row for a FIDS window: the whole payload, or ``{}`` for HTTP 204 (no flights)."""
        payload = {} if response.status == 204 else validate_flights(load_json(response))
        return [self.row(response, payload)]


def latest_airports(conn, cities) -> dict[str, list[dict[str, Any]]]:
    """City name -> airports (``[{"icao", "timezone"}]``) of the latest ``aerodatabox_airports`` row per city.

    Cities without any landing row are absent from the result.
    """
    wanted = {c.name for c in cities}
    found: dict[str, list[dict[str, Any]]] = {}
    with conn.cursor() as cur:
        cur.execute(f"select request_key, payload from {Airports.landing_table} order by fetched_at, id")
        for key_json, payload_json in cur.fetchall():
            city = json.loads(key_json).get("city")
            if city in wanted:
                try:
                    found[city] = airport_icaos(json.loads(payload_json))
                except ParseError:
                    continue
    conn.commit()
    return found


def flight_requests(
    airports_by_city: Mapping[str, list[dict[str, Any]]],
    cities: Sequence,
    window: tuple[datetime, datetime] | None,
    base_url: str,
    direction: str = "Arrival",
) -> list[RequestSpec]:
    """The FIDS requests of every airport of ``cities`` (each airport once), split into <= 12 h local windows."""
    specs: list[RequestSpec] = []
    seen: set[str] = set()
    for city in cities:
        for airport in airports_by_city.get(city.name, []):
            icao = airport["icao"]
            if icao in seen:
                continue
            seen.add(icao)
            try:
                zone = ZoneInfo(airport.get("timezone") or city.timezone)
            except (ValueError, KeyError):
                zone = city.zone
            start, end = window if window is not None else coming_day(zone)
            for from_local, to_local in split_window(start, end, zone):
                specs.append(flights_request(icao, from_local, to_local, base_url, direction))
    return specs


AIRPORTS = Airports()
FLIGHTS = Flights()
parse_airports = AIRPORTS.parse
parse_flights = FLIGHTS.parse
