"""The tracked cities: ``settings.cities_file`` (the dbt seed ``tracked_cities.csv``), which analysts edit.

Columns: ``city_name, country_code, wikipedia_title, latitude, longitude, timezone``
(decimal degrees; an IANA time zone such as ``Europe/Berlin``). The same file is seeded
by dbt, so extraction and the marts agree on the list; a city name must fit the seed's
column (:func:`check_city_name`), or loading the file fails naming the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from extract.seeds import read_rows

COLUMNS = ("city_name", "country_code", "wikipedia_title", "latitude", "longitude", "timezone")
#: characters a city name may have: the width of the seed's ``city_name`` column (``varchar(100)`` in
#: ``dbt_project/dbt_project.yml`` column_types; a test keeps the two equal). Kept here because the
#: extract Lambda ships without the dbt project.
CITY_NAME_MAX_CHARS = 100


def check_city_name(value: object) -> str:
    """``value`` when it is a usable city name: a string, not blank, without leading or trailing
    whitespace, at most :data:`CITY_NAME_MAX_CHARS` characters; :class:`ValueError` saying which rule failed."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"city name {value!r} should be a non-blank string")
    if value != value.strip():
        raise ValueError(f"city name {value!r} has leading or trailing whitespace")
    if len(value) > CITY_NAME_MAX_CHARS:
        raise ValueError(f"city name of {len(value)} characters is longer than {CITY_NAME_MAX_CHARS}")
    return value


class CitiesError(ValueError):
    """The cities file is missing, lacks a column, or has a bad row; the message names file and line."""


@dataclass(frozen=True)
class City:
    """A tracked city: ``name`` (the request key), ISO country code, article title, coordinates, time zone."""

    name: str
    country_code: str
    wikipedia_title: str
    latitude: float
    longitude: float
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.timezone)


def load_cities(path: str | Path) -> list[City]:
    """All cities of the CSV at ``path``, in file order. Raises :class:`CitiesError` on any bad row."""
    path = Path(path)
    cities: list[City] = []
    for line_no, row in read_rows(path, COLUMNS, CitiesError, "cities file"):
        try:
            name = check_city_name(row["city_name"])
            city = City(
                name=name,
                country_code=row["country_code"].strip(),
                wikipedia_title=(row["wikipedia_title"] or name).strip(),
                latitude=float(row["latitude"]),
                longitude=float(row["longitude"]),
                timezone=row["timezone"].strip(),
            )
            if not (-90 <= city.latitude <= 90 and -180 <= city.longitude <= 180):
                raise ValueError("coordinates out of range")
            city.zone  # noqa: B018 - validates the time zone name
        except (ValueError, TypeError, AttributeError, ZoneInfoNotFoundError) as exc:
            raise CitiesError(f"{path}:{line_no}: {exc}") from None
        cities.append(city)
    names = [c.name for c in cities]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CitiesError(f"{path}: duplicate city_name {', '.join(duplicates)}")
    return cities


def select_cities(cities: list[City], names: Iterable[str] | None) -> list[City]:
    """The cities named in ``names`` (case-insensitive), or all when ``names`` is None.

    Raises :class:`CitiesError` naming any unknown city.
    """
    if names is None:
        return list(cities)
    wanted = list(names)
    by_name = {c.name.casefold(): c for c in cities}
    unknown = [n for n in wanted if n.casefold() not in by_name]
    if unknown:
        raise CitiesError(f"not tracked: {', '.join(unknown)} (see the cities file)")
    return [by_name[n.casefold()] for n in wanted]
