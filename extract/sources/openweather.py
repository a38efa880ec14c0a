"""OpenWeather 5 day / 3 hour forecast by coordinates -> the whole JSON payload as one landing row.

Request: ``GET {base}/data/2.5/forecast?lat=..&lon=..&units=..`` plus ``appid`` (the API key,
added by the HTTP client, never recorded). Key: ``{"city": <name>}``.

``units`` (``standard`` = kelvin and m/s, ``metric`` = °C and m/s, ``imperial`` = °F and mph)
decides the unit of every temperature and speed in the body; it is kept in the row's
``request_params`` so staging can convert. Validation (:class:`ParseError` otherwise): a JSON
object with ``list`` (each slot with integer ``dt`` and numeric ``main.temp``) and ``city``
with integer ``timezone`` (offset from UTC in seconds) and ``coord``. Optional fields
(``rain.3h``, ``snow.3h``, ``visibility``, ``wind.gust``) may be absent.
"""

from __future__ import annotations

from extract.loader import LandingRow
from extract.sources import Fetched, ParseError, RequestSpec, load_json, require

SOURCE = "openweather"
KEY_FIELDS = ("city",)
REQUIRED_SETTINGS = ("openweather_api_key",)
DEFAULT_BASE_URL = "https://api.openweathermap.org"
PATH = "/data/2.5/forecast"
UNITS = ("standard", "metric", "imperial")


def forecast_request(
    city: str, latitude: float, longitude: float, units: str = "metric", base_url: str = DEFAULT_BASE_URL
) -> RequestSpec:
    """The forecast request for ``city`` at (``latitude``, ``longitude``) in decimal degrees; ``units`` as above."""
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, not {units!r}")
    params = {"lat": latitude, "lon": longitude, "units": units}
    return RequestSpec(SOURCE, {"city": city}, base_url.rstrip("/") + PATH, params)


def validate(payload: object) -> dict:
    """Check the forecast's shape; returns it, or raises :class:`ParseError` naming the first missing key."""
    if not isinstance(payload, dict):
        raise ParseError(f"payload should be a JSON object, got {type(payload).__name__}")
    slots = require(payload, "list", list)
    if not slots:
        raise ParseError("payload: 'list' is empty")
    for index, slot in enumerate(slots):
        where = f"list[{index}]"
        if not isinstance(slot, dict):
            raise ParseError(f"{where} should be an object")
        require(slot, "dt", int, where)
        require(slot, "main.temp", (int, float), where)
    require(payload, "city", dict)
    require(payload, "city.timezone", int)
    require(payload, "city.coord", dict)
    return payload


def parse(fetched: Fetched) -> list[LandingRow]:
    """One landing row holding the whole forecast; :class:`ParseError` when not a valid 200 forecast."""
    if fetched.status != 200:
        raise ParseError(f"HTTP {fetched.status}, expected 200")
    payload = validate(load_json(fetched))
    return [
        LandingRow(
            source=SOURCE,
            request_key=dict(fetched.key),
            request_params=fetched.params,
            fetched_at=fetched.fetched_at,
            http_status=fetched.status,
            payload=payload,
        )
    ]
