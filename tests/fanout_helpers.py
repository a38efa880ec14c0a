"""Generated city lists and airport searches for the fan-out tests and the benchmark (nothing committed).

City *i* borrows the country and time zone of tracked city *i* mod 16 (so the seeds' countries
and relationships hold), gets a name of its own (``"<tracked city> 0042"``) and coordinates of its
own (latitude stepped 0.05° from -60°, longitude of the tracked city), so the fake APIs can tell
the cities apart by the coordinates the extractor sends.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import extract.sources  # noqa: F401  (installs the registry a LandingRow built from a source name is looked up in)
from extract.loader import LandingRow
from extract.settings import PROJECT_ROOT

TRACKED = PROJECT_ROOT / "dbt_project" / "seeds" / "tracked_cities.csv"


def write_cities(path: Path, count: int) -> list[dict[str, str]]:
    """Write ``count`` generated cities to ``path`` in the tracked-cities format; returns the rows."""
    with TRACKED.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, base = reader.fieldnames, list(reader)
    rows = []
    for i in range(count):
        model = base[i % len(base)]
        name = f"{model['city_name']} {i:04d}"
        rows.append(
            {
                **model,
                "city_name": name,
                "wikipedia_title": name.replace(" ", "_"),
                "latitude": f"{-60 + i * 0.05:.4f}",
            }
        )
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def airport_rows(cities: list[dict[str, str]], skip: int | None = None) -> list[LandingRow]:
    """One AeroDataBox airport search per city (``skip``: an index left without one).

    City *i* has its own airport ``A<i>`` and one it shares with city *i* ± 1, ``S<i // 2>``
    (each airport's flights are planned once); both in the city's time zone.
    """
    out = []
    for i, city in enumerate(cities):
        if i == skip:
            continue
        items = [
            {"icao": f"A{i:04d}", "name": f"Own {i}", "timeZone": city["timezone"]},
            {"icao": f"S{i // 2:04d}", "name": f"Shared {i // 2}", "timeZone": city["timezone"]},
        ]
        out.append(
            LandingRow(
                source="aerodatabox_airports",
                request_key={"city": city["city_name"]},
                request_params={"lat": city["latitude"], "lon": city["longitude"]},
                fetched_at=datetime(2024, 9, 1, 6, 0, tzinfo=UTC),
                http_status=200,
                payload={"searchBy": {}, "count": len(items), "items": items},
            )
        )
    return out
