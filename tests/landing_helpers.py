"""Landing rows and counts shared by the database, loader and run-log tests, and the rows parsed from recordings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import extract.sources  # noqa: F401  (installs the registry a LandingRow built from a source name is looked up in)
from extract.loader import LandingRow
from extract.recording import ManifestEntry, read_manifest
from extract.response import Response

T0 = datetime(2024, 6, 18, 10, 30, tzinfo=UTC)


def landing_row(city: str, temp: float, source: str = "openweather", status: int = 200) -> LandingRow:
    """An OpenWeather-shaped landing row for ``city`` at :data:`T0` with one slot of ``temp`` °C."""
    return LandingRow(
        source=source,
        request_key={"city": city},
        request_params={"lat": 52.5, "lon": 13.4, "units": "metric"},
        fetched_at=T0,
        http_status=status,
        payload={"list": [{"main": {"temp": temp}}], "city": {"name": city}},
    )


def count_rows(conn, table: str) -> int:
    """``count(*)`` of ``table`` on ``conn``."""
    with conn.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        return cur.fetchone()[0]


def recorded_rows(
    recordings: Path, source: str, parse: Callable[[Response], list[LandingRow]]
) -> list[tuple[ManifestEntry, LandingRow]]:
    """Each recording of ``source`` in ``recordings`` with the one landing row ``parse`` makes of it.

    Fails (AssertionError) when there is no recording of ``source``; raises ValueError when ``parse``
    gives other than one row, and what ``parse`` raises (ParseError) on a body it refuses.
    """
    entries = read_manifest(recordings, {source})
    assert entries, f"no {source} recordings in {recordings}"
    pairs = []
    for entry in entries:
        (row,) = parse(entry.read())
        pairs.append((entry, row))
    return pairs
