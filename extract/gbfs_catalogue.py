"""The GBFS systems seed from MobilityData's public catalogue of GBFS systems (``systems.csv``).

MobilityData keeps ``systems.csv`` in its ``gbfs`` repository (about 1,500 systems; licence
CC BY 3.0). Its columns: ``Country Code, Name, Location, System ID, URL, Auto-Discovery URL,
Supported Versions, Authentication Info URL, Authentication Type, Authentication Parameter Name``.
It has no coordinates, so a system is matched to a tracked city by **location name**:

- the catalogue's ``Location`` up to its first comma (``"Nice, FR"`` -> ``Nice``), accents
  folded and case ignored, equals the city's ``city_name`` or one of its local names in
  :data:`CITY_ALIASES` (``Sevilla`` -> Seville, ``München`` -> Munich ...), and
- the catalogue's ``Country Code`` equals the city's ``country_code``.

Names are not matched as substrings (``nextbike Hranice`` would match Nice, ``Dott Überlingen``
Berlin); a district or suburb (``Berlin-Buch``, ``Grand Paris Seine et Oise``,
``Rivas-Vaciamadrid``) is another place and is not matched either.

:func:`refresh` writes ``dbt_project/seeds/gbfs_systems.csv`` (columns :data:`SEED_COLUMNS`),
which analysts review and commit. Systems that need authentication (``Authentication Type``
set) are written with ``is_enabled = false``: listed, not fetched. Rows of the previous seed
whose ``source`` is ``manual`` (systems the catalogue lacks) are carried over unchanged.
A catalogue row with a bad discovery URL, an unknown GBFS version or a duplicate system id
is reported in :attr:`Refresh.problems` and left out; the others are written.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

#: GBFS versions published by the specification (MobilityData's releases)
KNOWN_VERSIONS = frozenset({"1.0", "1.1", "2.0", "2.1", "2.2", "2.3", "3.0", "3.1-RC", "3.1-RC2", "3.1"})
#: local-language names the catalogue uses for tracked cities (accent-folded, lower case) -> city_name
CITY_ALIASES = {
    "munchen": "Munich",
    "koln": "Cologne",
    "frankfurt am main": "Frankfurt",
    "sevilla": "Seville",
    "lisboa": "Lisbon",
    "valencia": "Valencia",
    "marseilles": "Marseille",
}
ATTRIBUTION = "GBFS systems catalogue © MobilityData, CC BY 3.0"
LICENCE = "CC-BY-3.0"
CATALOGUE_COLUMNS = (
    "Country Code",
    "Name",
    "Location",
    "System ID",
    "URL",
    "Auto-Discovery URL",
    "Supported Versions",
    "Authentication Type",
)
#: the seed's columns; the first four are the ones extraction needs (extract/sources/gbfs.py)
SEED_COLUMNS = (
    "operator",
    "system_id",
    "discovery_url",
    "city_name",
    "is_enabled",
    "system_name",
    "country_code",
    "catalogue_location",
    "supported_versions",
    "authentication_type",
    "operator_url",
    "source",
    "attribution",
    "licence",
)


class CatalogueError(ValueError):
    """The catalogue cannot be read at all (unreachable, not CSV, a column missing)."""


@dataclass
class Refresh:
    """What :func:`refresh` did: the rows written, the catalogue rows left out and why."""

    rows: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    catalogue_rows: int = 0

    def cities(self) -> dict[str, int]:
        """Systems written per city name."""
        out: dict[str, int] = {}
        for row in self.rows:
            out[row["city_name"]] = out.get(row["city_name"], 0) + 1
        return out


def fold(text: str) -> str:
    """``text`` without accents, lower case, spaces collapsed (``"Vélib' Métropole"`` -> ``"velib' metropole"``)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.lower().split())


def read_catalogue(url: str, timeout_s: float = 30.0) -> str:
    """The catalogue's text from ``url``: an http(s) URL, a ``file://`` URL or a local path.

    Raises :class:`CatalogueError` when it cannot be read.
    """
    parts = urlsplit(url)
    try:
        if parts.scheme in ("http", "https"):
            response = requests.get(url, timeout=timeout_s, headers={"Accept": "text/csv"})
            response.raise_for_status()
            response.encoding = "utf-8"
            return response.text
        path = Path(parts.path if parts.scheme == "file" else url)
        return path.read_text(encoding="utf-8-sig")
    except (OSError, requests.RequestException) as exc:
        raise CatalogueError(f"cannot read the GBFS catalogue {url}: {exc}") from None


def _operator(name: str, location: str, city: str) -> str:
    """The brand of a catalogue ``Name``: the name without its place (``"Dott Berlin"`` -> ``Dott``)."""
    places = {fold(location), fold(city)} | {alias for alias, c in CITY_ALIASES.items() if c == city}
    words = [w for w in name.replace(" - ", " ").split() if fold(w) not in places]
    return " ".join(words) or name


def match(text: str, cities: list[dict[str, str]]) -> Refresh:
    """Catalogue text -> the seed rows of the systems located in ``cities`` (tracked_cities rows).

    Raises :class:`CatalogueError` when a column of :data:`CATALOGUE_COLUMNS` is missing.
    """
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CATALOGUE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CatalogueError(f"the GBFS catalogue lacks column(s) {', '.join(missing)}")
    by_name = {fold(c["city_name"]): c for c in cities}
    for alias, city in CITY_ALIASES.items():
        if fold(city) in by_name:
            by_name.setdefault(alias, by_name[fold(city)])
    out = Refresh()
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        out.catalogue_rows += 1
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        city = by_name.get(fold(row["Location"].split(",")[0]))
        if city is None or row["Country Code"].upper() != city["country_code"].upper():
            continue
        system_id = row["System ID"]
        where = f"line {line_no} ({system_id or '?'}, {row['Name']})"
        url = row["Auto-Discovery URL"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            out.problems.append(f"{where}: discovery URL {url!r} is not an http(s) URL")
            continue
        versions = [v.strip() for v in row["Supported Versions"].split(";") if v.strip()]
        unknown = [v for v in versions if v not in KNOWN_VERSIONS]
        if not versions or unknown:
            out.problems.append(f"{where}: unknown GBFS version(s) {', '.join(unknown) or '(none)'}")
            continue
        if not system_id:
            out.problems.append(f"{where}: empty System ID")
            continue
        # the database compares ids case-insensitively (utf8mb4_unicode_ci): so does this check
        if system_id.casefold() in seen:
            out.problems.append(f"{where}: duplicate System ID (first on line {seen[system_id.casefold()]})")
            continue
        seen[system_id.casefold()] = line_no
        out.rows.append(
            {
                "operator": _operator(row["Name"], row["Location"], city["city_name"]),
                "system_id": system_id,
                "discovery_url": url,
                "city_name": city["city_name"],
                "is_enabled": "false" if row["Authentication Type"] else "true",
                "system_name": row["Name"],
                "country_code": row["Country Code"].upper(),
                "catalogue_location": row["Location"],
                "supported_versions": ";".join(versions),
                "authentication_type": row["Authentication Type"],
                "operator_url": row["URL"],
                "source": "catalogue",
                "attribution": ATTRIBUTION,
                "licence": LICENCE,
            }
        )
    return out


def manual_rows(seed_path: Path) -> list[dict[str, str]]:
    """Rows of an existing seed whose ``source`` is ``manual`` (kept by :func:`refresh`), else none."""
    if not seed_path.exists():
        return []
    with seed_path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            {c: (row.get(c) or "") for c in SEED_COLUMNS}
            for row in csv.DictReader(handle)
            if (row.get("source") or "").strip() == "manual"
        ]


def refresh(url: str, cities_file: Path, seed_path: Path, timeout_s: float = 30.0) -> Refresh:
    """Fetch the catalogue at ``url``, match it to the cities of ``cities_file`` and rewrite ``seed_path``.

    The seed is written whole (to a temporary file, then renamed: never half-written), catalogue
    systems ordered by city then system id, then the previous seed's manual rows whose id the
    catalogue does not hold (a manual row the catalogue now lists is reported and dropped).
    Raises :class:`CatalogueError` when the catalogue cannot be read; bad rows are in ``problems``.
    """
    with Path(cities_file).open(encoding="utf-8-sig", newline="") as handle:
        cities = list(csv.DictReader(handle))
    result = match(read_catalogue(url, timeout_s), cities)
    result.rows.sort(key=lambda r: (r["city_name"], r["system_id"].casefold()))
    ids = {r["system_id"].casefold() for r in result.rows}
    for row in manual_rows(Path(seed_path)):
        if row["system_id"].casefold() in ids:
            result.problems.append(f"manual row {row['system_id']}: now in the catalogue, the catalogue's row is kept")
            continue
        result.rows.append(row)
    tmp = Path(seed_path).with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SEED_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(result.rows)
    tmp.replace(seed_path)
    return result
