"""Open-Meteo hourly forecast by coordinates -> the whole JSON payload as one landing row. Needs no API key.

Request: ``GET {base}/v1/forecast?latitude=..&longitude=..&hourly=..&timezone=UTC`` with every unit
parameter fixed (``temperature_unit=celsius``, ``wind_speed_unit=ms``, ``precipitation_unit=mm``,
``timeformat=iso8601``) and, when ``OPEN_METEO_MODELS`` is set, ``models=``. Key: ``{"city": <name>}``,
coordinates from the tracked cities seed. Landing table ``open_meteo_forecasts``; staged by
``stg_open_meteo__forecasts``.

The free API (``OPEN_METEO_BASE_URL``, default ``https://api.open-meteo.com``) is for non-commercial
use only. With ``OPEN_METEO_API_KEY`` set (a subscription), requests go to
``OPEN_METEO_CUSTOMER_BASE_URL`` (default ``https://customer-api.open-meteo.com``) with ``apikey=``
added by the HTTP client, never recorded.

Shapes (both validated, both staged): one model (no ``models=``, or one model), per Open-Meteo's
documentation::

    {"latitude", "longitude", "generationtime_ms", "utc_offset_seconds", "timezone",
     "timezone_abbreviation", "elevation", "hourly_units": {"time": "iso8601", "temperature_2m": "°C", ...},
     "hourly": {"time": ["2025-11-24T00:00", ...], "temperature_2m": [2.3, ...], ...}}

and several models, where every hourly key but ``time`` carries the model as a suffix
(``temperature_2m_icon_d2``), arrays may hold ``null`` (a model without that variable, or past its
horizon) and ``hourly_units`` says ``"undefined"`` for a variable a model lacks (real capture:
``../shared/captures/openmeteo``). Times are local to ``utc_offset_seconds`` (0 with ``timezone=UTC``).

Validation (:class:`ParseError` otherwise): a JSON object that is not an error body
(``{"error": true, "reason": ...}``), with numeric ``latitude``/``longitude``, integer
``utc_offset_seconds``, an object ``hourly_units``, and ``hourly`` holding a non-empty ``time`` list of
strings, at least one ``temperature_2m`` series and only lists as long as ``time``.
"""

from __future__ import annotations

from collections.abc import Iterable

from extract.loader import LandingRow
from extract.response import RequestSpec, Response
from extract.sources.base import ParseError, RunContext, Source, load_json, require

DEFAULT_BASE_URL = "https://api.open-meteo.com"
PATH = "/v1/forecast"
#: the hourly variables asked for; staging reads these names (with a model suffix when several models)
HOURLY = (
    "temperature_2m",
    "apparent_temperature",
    "precipitation",
    "rain",
    "showers",
    "snowfall",
    "precipitation_probability",
    "weather_code",
    "cloud_cover",
    "wind_speed_10m",
    "wind_gusts_10m",
    "wind_direction_10m",
    "visibility",
)
#: units fixed in every request, so staging need not guess (it still converts what hourly_units says)
UNIT_PARAMS = {
    "temperature_unit": "celsius",
    "wind_speed_unit": "ms",
    "precipitation_unit": "mm",
    "timeformat": "iso8601",
    "timezone": "UTC",
}


def forecast_request(
    city: str, latitude: float, longitude: float, base_url: str = DEFAULT_BASE_URL, models: str = ""
) -> RequestSpec:
    """The hourly forecast request for ``city`` at (``latitude``, ``longitude``), decimal degrees.

    ``models``: comma-separated Open-Meteo model names, or empty for its ``best_match``.
    """
    params: dict = {"latitude": latitude, "longitude": longitude, "hourly": ",".join(HOURLY), **UNIT_PARAMS}
    models = ",".join(m.strip() for m in models.split(",") if m.strip())
    if models:
        params["models"] = models
    return RequestSpec(OpenMeteo.name, {"city": city}, base_url.rstrip("/") + PATH, params)


def models_in(payload: dict) -> list[str]:
    """The model suffixes of a validated payload's hourly series: ``[""]`` for the single-model shape."""
    return sorted(
        key[len("temperature_2m") :].lstrip("_") for key in payload["hourly"] if key.startswith("temperature_2m")
    )


def validate(payload: object) -> dict:
    """Check the forecast's shape (see the module docstring); returns it, or raises :class:`ParseError`."""
    if not isinstance(payload, dict):
        raise ParseError(f"payload should be a JSON object, got {type(payload).__name__}")
    if payload.get("error") is True:
        raise ParseError(f"Open-Meteo error: {payload.get('reason', 'no reason given')}")
    require(payload, "latitude", (int, float))
    require(payload, "longitude", (int, float))
    require(payload, "utc_offset_seconds", int)
    require(payload, "hourly_units", dict)
    hourly = require(payload, "hourly", dict)
    times = require(payload, "hourly.time", list)
    if not times:
        raise ParseError("payload: 'hourly.time' is empty")
    if not all(isinstance(t, str) for t in times):
        raise ParseError("payload: 'hourly.time' should hold strings (timeformat=iso8601)")
    if not any(key.startswith("temperature_2m") for key in hourly):
        raise ParseError("payload: no 'hourly.temperature_2m' series")
    for key, values in hourly.items():
        if not isinstance(values, list) or len(values) != len(times):
            raise ParseError(f"payload: 'hourly.{key}' should be a list of {len(times)} values, like 'hourly.time'")
    return payload


class OpenMeteo(Source):
    """The Open-Meteo hourly forecast source (key ``{"city"}``; no key needed, ``OPEN_METEO_API_KEY`` optional)."""

    name = "open_meteo"
    landing_table = "open_meteo_forecasts"
    key_fields = ("city",)
    api = "open_meteo"
    base_url_setting = "open_meteo_base_url"
    schedule = "cron(15 * * * ? *)"

    def base_url(self, settings) -> str:
        """The customer endpoint when a subscription key is set, else the free API."""
        if settings.open_meteo_api_key.get_secret_value():
            return settings.open_meteo_customer_base_url.rstrip("/")
        return settings.open_meteo_base_url.rstrip("/")

    def client_options(self, settings) -> dict:
        key = settings.open_meteo_api_key.get_secret_value()
        return {
            "secret_params": {"apikey": key} if key else {},
            "headers": {"Accept": "application/json"},
            "rate_per_minute": settings.open_meteo_rate_per_minute,
        }

    def requests(self, ctx: RunContext) -> Iterable[RequestSpec]:
        models = ctx.settings.open_meteo_models
        return [forecast_request(c.name, c.latitude, c.longitude, ctx.base_url, models) for c in ctx.cities]

    def parse(self, response: Response) -> list[LandingRow]:
        """One landing row holding the whole forecast; :class:`ParseError` when it is not a valid forecast."""
        return [self.row(response, validate(load_json(response)))]


OPEN_METEO = OpenMeteo()
parse = OPEN_METEO.parse
