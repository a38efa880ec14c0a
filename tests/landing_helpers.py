"""Landing rows and counts shared by the database, loader and run-log tests."""

from __future__ import annotations

from datetime import UTC, datetime

import extract.sources  # noqa: F401  (installs the registry a LandingRow built from a source name is looked up in)
from extract.loader import LandingRow

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
