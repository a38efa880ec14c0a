"""Benchmark workloads generated from the real recordings in ``../shared/recordings``.

Nothing here is written by hand: every payload is a real recorded response, repeated
for more cities and shifted in time the way months of operation would produce them.

- More cities: synthetic city ``i`` copies tracked city ``i % 16`` (its real
  2024-06-18 OpenWeather forecast), is named ``"<city> <k>"`` for the ``k``-th copy
  (the first copy keeps the real name) and has its coordinates shifted by
  ``0.05° * k``. Each synthetic city gets one airport ``Z<nnn>`` (ICAO-like) built
  from the real 2024-09 AeroDataBox search response.
- Later in time: a forecast fetched ``n * 3 h`` after the recording has every slot's
  ``dt`` (Unix seconds, UTC) and ``dt_txt`` (UTC) and the city's sunrise/sunset
  moved by the same amount; a flight board ``d`` days later has every
  ``YYYY-MM-DD HH:MM`` timestamp (UTC and local strings alike) and its request
  window moved by ``d`` days. ``fetched_at`` is always timezone-aware UTC.

Sizes are kept down where the issue's literal sizes would not fit a 2-core machine
in minutes: history forecasts can be trimmed to their first ``slots`` 3-hour slots
and flight boards to their first ``max_flights`` movements per direction (see
bench/README.md).
"""

from __future__ import annotations

import csv
import json
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from extract.instants import parse_instant as parse_utc
from extract.loader import LandingRow
from extract.settings import PROJECT_ROOT

#: the shared corpus of real recordings, beside the project
RECORDINGS = PROJECT_ROOT.parent / "shared" / "recordings"
#: git-ignored folder for generated workloads
WORK_DIR = PROJECT_ROOT / "bench" / "work"

_FORECAST_DAY = "2024-06-18"  # the day all 16 tracked cities were recorded
_AIRPORTS_BODY = "aerodatabox_airports/berlin_2024-09.json"
_FLIGHTS_BODY = "aerodatabox_flights/EDDB_2024-05-08T1200.json"
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2})")
_THREE_HOURS = 3 * 3600


def read_manifest(recordings_dir: Path = RECORDINGS) -> list[dict[str, Any]]:
    """The manifest entries of ``recordings_dir`` (one dict per line of manifest.jsonl).

    Raises FileNotFoundError when the folder has no manifest.
    """
    path = Path(recordings_dir) / "manifest.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class Response:
    """One (synthetic) API response: what an extractor hands to the loader."""

    source: str
    key: dict[str, Any]
    params: dict[str, Any]
    fetched_at: datetime
    payload: Any
    status: int = 200

    def landing_row(self) -> LandingRow:
        """The :class:`extract.loader.LandingRow` the extractor would land for this response."""
        return LandingRow(self.source, self.key, self.params, self.fetched_at, self.status, self.payload)

    def payload_bytes(self) -> int:
        """Size of the compact JSON payload in bytes (UTF-8): what "MB of payload" counts."""
        return len(json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


@dataclass(frozen=True)
class City:
    """A (possibly synthetic) city with its one airport."""

    name: str
    country_code: str
    latitude: float
    longitude: float
    template: str  # name of the real city whose forecast it reuses
    airport_icao: str
    airport_iata: str


class Templates:
    """The real recordings the workloads are made of, read once from ``recordings_dir``."""

    def __init__(self, recordings_dir: Path = RECORDINGS):
        self.dir = Path(recordings_dir)
        manifest = read_manifest(self.dir)
        self.forecasts: dict[str, tuple[dict, datetime, dict]] = {}
        for entry in manifest:
            if entry["source"] == "openweather" and entry["fetched_at"].startswith(_FORECAST_DAY):
                body = json.loads((self.dir / entry["body"]).read_text(encoding="utf-8"))
                self.forecasts[entry["key"]["city"]] = (
                    body,
                    parse_utc(entry["fetched_at"]),
                    entry["request"]["params"],
                )
        if not self.forecasts:
            raise ValueError(f"no OpenWeather recordings of {_FORECAST_DAY} in {self.dir}")
        self.airports = json.loads((self.dir / _AIRPORTS_BODY).read_text(encoding="utf-8"))
        self.flights = json.loads((self.dir / _FLIGHTS_BODY).read_text(encoding="utf-8"))
        flights_entry = next(e for e in manifest if e["body"] == _FLIGHTS_BODY)
        self.flights_key = flights_entry["key"]
        self.flights_params = flights_entry["request"]["params"]
        self.flights_fetched_at = parse_utc(flights_entry["fetched_at"])
        self.forecast_fetched_at = next(iter(self.forecasts.values()))[1]
        self.countries = _tracked_countries()

    # -- cities -----------------------------------------------------------------------
    def cities(self, n: int) -> list[City]:
        """``n`` cities: the recorded ones first, then shifted copies (see the module doc)."""
        bases = sorted(self.forecasts)
        letters = string.ascii_uppercase
        out = []
        for i in range(n):
            base = bases[i % len(bases)]
            copy = i // len(bases)
            _, _, params = self.forecasts[base]
            out.append(
                City(
                    name=base if copy == 0 else f"{base} {copy + 1}",
                    country_code=self.countries.get(base, "XX"),
                    latitude=round(float(params["lat"]) + 0.05 * copy, 4),
                    longitude=round(float(params["lon"]) + 0.05 * copy, 4),
                    template=base,
                    airport_icao=f"Z{i:03d}",
                    airport_iata="Z" + letters[(i // 26) % 26] + letters[i % 26],
                )
            )
        return out

    # -- responses --------------------------------------------------------------------
    def forecast(self, city: City, fetched_at: datetime, slots: int | None = None) -> Response:
        """The city's OpenWeather 5-day/3-hour forecast as fetched at ``fetched_at``.

        ``fetched_at`` is rounded to whole 3-hour steps from the recording, so the
        slots stay on the real 00/03/.../21 h UTC grid. ``slots`` keeps only the
        first ``slots`` of the 40 slots (``None``: all).
        """
        body, recorded_at, _ = self.forecasts[city.template]
        shift = round((fetched_at - recorded_at).total_seconds() / _THREE_HOURS) * _THREE_HOURS
        items = body["list"] if slots is None else body["list"][:slots]
        new_list = []
        for slot in items:
            dt = slot["dt"] + shift
            new_list.append({**slot, "dt": dt, "dt_txt": datetime.fromtimestamp(dt, UTC).strftime("%Y-%m-%d %H:%M:%S")})
        c = body["city"]
        payload = {
            **body,
            "cnt": len(new_list),
            "list": new_list,
            "city": {
                **c,
                "name": city.name,
                "coord": {"lat": city.latitude, "lon": city.longitude},
                "sunrise": c["sunrise"] + shift,
                "sunset": c["sunset"] + shift,
            },
        }
        params = {"lat": city.latitude, "lon": city.longitude, "units": "metric"}
        return Response("openweather", {"city": city.name}, params, recorded_at + timedelta(seconds=shift), payload)

    def airport(self, city: City, fetched_at: datetime) -> Response:
        """The AeroDataBox search-by-location response for the city: its one airport."""
        item = dict(self.airports["items"][0])
        item.update(
            icao=city.airport_icao,
            iata=city.airport_iata,
            name=f"{city.name} Airport",
            shortName=city.name,
            municipalityName=city.name,
            location={"lat": round(city.latitude - 0.05, 5), "lon": round(city.longitude + 0.05, 5)},
            countryCode=city.country_code,
        )
        payload = {"searchBy": {"lat": city.latitude, "lon": city.longitude}, "count": 1, "items": [item]}
        params = {
            "lat": city.latitude,
            "lon": city.longitude,
            "radiusKm": 50,
            "limit": 10,
            "withFlightInfoOnly": "true",
        }
        return Response("aerodatabox_airports", {"city": city.name}, params, fetched_at, payload)

    def flight_board(self, airport_icao: str, day_shift: int, max_flights: int | None = None) -> Response:
        """The real EDDB 12-hour FIDS board moved ``day_shift`` days later, for ``airport_icao``.

        ``max_flights`` keeps only the first movements of each direction (``None``: all).
        """
        delta = timedelta(days=day_shift)
        board = {
            direction: _shift_times(moves if max_flights is None else moves[:max_flights], delta)
            for direction, moves in self.flights.items()
        }
        key = {
            "airport_icao": airport_icao,
            "from_local": _shift_stamp(self.flights_key["from_local"], delta),
            "to_local": _shift_stamp(self.flights_key["to_local"], delta),
        }
        return Response("aerodatabox_flights", key, dict(self.flights_params), self.flights_fetched_at + delta, board)

    # -- whole workloads --------------------------------------------------------------
    def days_until(self, moment: datetime) -> int:
        """Whole days from the forecast recording to ``moment`` (to line a workload up with the clock)."""
        return (moment - self.forecast_fetched_at).days

    def cycle_start(self, day: int, cycle: int = 0) -> datetime:
        """Fetch instant of forecast cycle ``cycle`` (0-7, every 3 h) of day ``day`` after the recording."""
        return self.forecast_fetched_at + timedelta(days=day, hours=3 * cycle)

    def operation(
        self,
        cities: list[City],
        days: Iterable[int],
        *,
        cycles_per_day: int = 8,
        slots: int | None = None,
        flight_airports: int | None = None,
        max_flights: int | None = None,
        with_airports: bool = True,
    ) -> Iterator[Response]:
        """Responses of ``days`` of operation (day numbers after the recording), in fetch order.

        Per day: ``cycles_per_day`` forecast cycles for every city (``slots`` each)
        and one flight board for each of the first ``flight_airports`` cities'
        airports (all when ``None``). Airports are searched once, on the first day.
        """
        days = list(days)
        boards = cities if flight_airports is None else cities[:flight_airports]
        if with_airports and days:
            at = self.cycle_start(days[0])
            for city in cities:
                yield self.airport(city, at)
        for day in days:
            for cycle in range(cycles_per_day):
                at = self.cycle_start(day, cycle * (8 // max(1, cycles_per_day)))
                for city in cities:
                    yield self.forecast(city, at, slots)
            for city in boards:
                yield self.flight_board(city.airport_icao, day + _days_after_flights(self), max_flights)


def _days_after_flights(t: Templates) -> int:
    """Days between the flight recording and the forecast recording (so both line up in time)."""
    return (t.forecast_fetched_at.date() - t.flights_fetched_at.date()).days


def _shift_stamp(text: str, delta: timedelta) -> str:
    match = _STAMP.match(text)
    if not match:
        return text
    head = match.group(1)
    sep = head[10]
    moved = datetime.strptime(head.replace("T", " "), "%Y-%m-%d %H:%M") + delta
    return moved.strftime(f"%Y-%m-%d{sep}%H:%M") + text[len(head) :]


def _shift_times(value: Any, delta: timedelta) -> Any:
    """Every ``YYYY-MM-DD HH:MM...`` string inside ``value`` moved by ``delta`` (offsets kept)."""
    if isinstance(value, dict):
        return {k: _shift_times(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_times(v, delta) for v in value]
    if isinstance(value, str) and _STAMP.match(value):
        return _shift_stamp(value, delta)
    return value


def _tracked_countries() -> dict[str, str]:
    path = PROJECT_ROOT / "dbt_project" / "seeds" / "tracked_cities.csv"
    if not path.exists():
        return {}
    with path.open(encoding="utf-8") as fh:
        return {row["city_name"]: row["country_code"] for row in csv.DictReader(fh)}


# --------------------------------------------------------------------------------------
# LOAD DATA files


def _plain(value: Any) -> Any:
    """The plain value of a loader parameter (the loader wraps large texts, e.g. in a hex-literal type)."""
    return getattr(value, "text", value)


def _tsv_field(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    text = str(value)
    return (
        text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r").replace("\0", "\\0")
    )


def write_tsv(path: Path, rows: Iterable[LandingRow], run_id: int) -> tuple[int, int]:
    """Write ``rows`` as a tab-separated file for ``LOAD DATA`` (MySQL default escaping).

    Columns are :meth:`LandingRow.values` in loader order. Returns (rows, payload bytes).
    """
    count = payload = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            values = row.values(run_id)
            fh.write("\t".join(_tsv_field(v) for v in values))
            fh.write("\n")
            count += 1
            payload += len(_plain(values[6]).encode("utf-8"))
    return count, payload


LOAD_COLUMNS = (
    "run_id, request_key, request_key_sha256, request_params, fetched_at, http_status, payload, payload_sha256"
)


def load_data_sql(path: Path, table: str, columns: str = LOAD_COLUMNS) -> str:
    """The ``LOAD DATA LOCAL INFILE`` statement for a file of :func:`write_tsv` (duplicates ignored)."""
    quoted = str(path).replace("\\", "\\\\").replace("'", "\\'")
    return (
        f"load data local infile '{quoted}' ignore into table {table} character set utf8mb4 "
        f"fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n' ({columns})"
    )
