"""Helpers for the dbt tests: land the shared recordings into the landing tables.

:func:`land_corpus` fills ``gans_raw`` from ``../shared/recordings``. When the
extractors' ``extract.pipeline.replay(settings, recordings_dir)`` exists it is used
(the real corpus, Wikipedia pages parsed by the real parser); until then the JSON
bodies of the manifest are landed as they are (OpenWeather and AeroDataBox bodies
are stored unchanged by the extractors), plus hand-built Wikipedia payloads of the
documented shape for Berlin's two recorded revisions (:data:`BERLIN_WIKIPEDIA`).

All times are UTC. Rows go through :class:`extract.loader.Loader`, like the pipeline's.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extract import db
from extract.loader import LandingRow, Loader
from extract.runlog import RunLog
from extract.settings import Settings

#: Berlin's infobox facts for the two recorded revisions, in the Wikipedia payload shape.
BERLIN_WIKIPEDIA: list[dict[str, Any]] = [
    {
        "fetched_at": "2022-10-07T12:00:00Z",
        "payload": {
            "city": "Berlin",
            "page_title": "Berlin",
            "page_url": "https://en.wikipedia.org/wiki/Berlin",
            "revision_id": 1113830351,
            "country": "Germany",
            "latitude": 52.52,
            "longitude": 13.405,
            "populations": [
                {
                    "kind": "city",
                    "value": 3769495,
                    "as_of_date": "2020-12-31",
                    "as_of_precision": "day",
                    "figure_type": None,
                    "label": "City/State",
                },
                {
                    "kind": "urban",
                    "value": 4473101,
                    "as_of_date": None,
                    "as_of_precision": None,
                    "figure_type": None,
                    "label": "Urban",
                },
                {
                    "kind": "metro",
                    "value": 6144600,
                    "as_of_date": None,
                    "as_of_precision": None,
                    "figure_type": None,
                    "label": "Metro",
                },
            ],
            "parser_version": 1,
        },
    },
    {
        "fetched_at": "2025-11-15T12:00:00Z",
        "payload": {
            "city": "Berlin",
            "page_title": "Berlin",
            "page_url": "https://en.wikipedia.org/wiki/Berlin",
            "revision_id": 1321491080,
            "country": "Germany",
            "latitude": 52.52,
            "longitude": 13.405,
            "populations": [
                {
                    "kind": "city",
                    "value": 3596999,
                    "as_of_date": "2022-01-01",
                    "as_of_precision": "year",
                    "figure_type": "census",
                    "label": "City/State",
                },
                {
                    "kind": "city",
                    "value": 3897145,
                    "as_of_date": "2024-12-01",
                    "as_of_precision": "month",
                    "figure_type": "estimate",
                    "label": "City/State",
                },
                {
                    "kind": "urban",
                    "value": 4679500,
                    "as_of_date": None,
                    "as_of_precision": None,
                    "figure_type": None,
                    "label": "Urban",
                },
            ],
            "parser_version": 1,
        },
    },
]


def parse_utc(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SSZ`` -> aware UTC datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def manifest(recordings: Path) -> list[dict[str, Any]]:
    """The recordings' manifest entries, in ``fetched_at`` order."""
    lines = (recordings / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    return sorted((json.loads(line) for line in lines if line.strip()), key=lambda e: e["fetched_at"])


def row_from_entry(recordings: Path, entry: dict[str, Any]) -> LandingRow:
    """The landing row a live fetch of a JSON ``entry`` would store (204 -> payload ``{}``)."""
    body = (recordings / entry["body"]).read_text(encoding="utf-8") if entry.get("body") else ""
    payload = json.loads(body) if entry["status"] == 200 and body.strip() else {}
    return LandingRow(
        source=entry["source"],
        request_key=entry["key"],
        request_params=entry["request"]["params"],
        fetched_at=parse_utc(entry["fetched_at"]),
        http_status=entry["status"],
        payload=payload,
    )


def wikipedia_rows() -> list[LandingRow]:
    """Hand-built Wikipedia landing rows for Berlin's two revisions (:data:`BERLIN_WIKIPEDIA`)."""
    return [
        LandingRow(
            source="wikipedia",
            request_key={"city": item["payload"]["city"]},
            request_params={},
            fetched_at=parse_utc(item["fetched_at"]),
            http_status=200,
            payload=item["payload"],
            infobox_html="<table class='infobox'></table>",
        )
        for item in BERLIN_WIKIPEDIA
    ]


def land(settings: Settings, rows: list[LandingRow], trigger: str = "test") -> int:
    """Land ``rows`` (grouped per source, one run each) as the loader user; return rows landed."""
    conn = db.connect(settings, "loader")
    landed = 0
    try:
        runlog = RunLog(conn)
        for source in sorted({r.source for r in rows}):
            run = runlog.start(source, trigger)
            result = Loader(conn).land(run.id, [r for r in rows if r.source == source])
            run.counters.rows_landed += result.landed
            run.counters.rows_duplicate += result.duplicates
            runlog.finish(run)
            landed += result.landed
    finally:
        conn.close()
    return landed


def replay_available() -> bool:
    """True when the extractors' ``extract.pipeline.replay`` exists in the tree."""
    try:
        module = importlib.import_module("extract.pipeline")
    except ImportError:
        return False
    return callable(getattr(module, "replay", None))


def land_corpus(settings: Settings, recordings: Path) -> None:
    """Fill the landing tables with the whole recorded corpus (see the module docstring)."""
    if replay_available():
        from extract.pipeline import replay

        replay(settings, recordings)
        return
    rows = [row_from_entry(recordings, e) for e in manifest(recordings) if e["source"] != "wikipedia"]
    land(settings, rows + wikipedia_rows())


def table_checksum(conn, table: str) -> tuple[int, str]:
    """(row count, SHA-256 over all rows in primary-column order) of ``table``: equal means unchanged."""
    with conn.cursor() as cur:
        cur.execute(f"select * from {table}")
        rows = sorted(repr(row) for row in cur.fetchall())
    digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return len(rows), digest
