"""OpenWeather 5 day / 3 hour forecast by coordinates -> the whole JSON payload as one landing row.

Request: ``GET {base}/data/2.5/forecast?lat=..&lon=..&units=..`` plus ``appid`` (the API key,
added by the HTTP client, never recorded). Key: ``{"city": <name>}``. Landing table
``openweather_forecasts``; staged by ``stg_openweather__forecasts``.

``units`` (``standard`` = kelvin and m/s, ``metric`` = °C and m/s, ``imperial`` = °F and mph)
decides the unit of every temperature and speed in the body; it is kept in the row's
``request_params`` so staging can convert. Validation (:class:`ParseError` otherwise): a JSON
object with ``list`` (each slot with integer ``dt`` and numeric ``main.temp``) and ``city``
with integer ``timezone`` (offset from UTC in seconds) and ``coord``. Optional fields
(``rain.3h``, ``snow.3h``, ``visibility``, ``wind.gust``) may be absent.
"""

from __future__ import annotations

from collections.abc import Iterable

from extract.loader import LandingRow
from extract.response import RequestSpec, Response
from extract.sources.base import ParseError, RunContext, Source, load_json, require

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
    return RequestSpec(OpenWeather.name, {"city": city}, base_url.rstrip("/") + PATH, params)


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


class OpenWeather(Source):
    """The OpenWeather forecast source (key ``{"city"}``, API key ``OPENWEATHER_API_KEY``)."""

    name = "openweather"
    landing_table = "openweather_forecasts"
    key_fields = ("city",)
    required_settings = ("openweather_api_key",)
    api = "openweather"
    base_url_setting = "openweather_base_url"
    schedule = "cron(5 */3 * * ? *)"

    def client_options(self, settings) -> dict:
        return {
            "secret_params": {"appid": settings.openweather_api_key.get_secret_value()},
            "headers": {"Accept": "application/json"},
            "rate_per_minute": settings.openweather_rate_per_minute,
        }

    def requests(self, ctx: RunContext) -> Iterable[RequestSpec]:
        units = ctx.settings.openweather_units
        return [forecast_request(c.name, c.latitude, c.longitude, units, ctx.base_url) for c in ctx.cities]

    def parse(self, response: Response) -> list[LandingRow]:
        """One landing row holding the whole forecast; :class:`ParseError` when it is not a valid forecast."""
        return [self.row(response, validate(load_json(response)))]


OPENWEATHER = OpenWeather()
parse = OPENWEATHER.parse
