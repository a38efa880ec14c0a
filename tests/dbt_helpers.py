"""Helpers for the dbt tests: land the shared recordings, build landing rows, compare tables.

:func:`land_corpus` fills ``gans_raw`` from ``../shared/recordings`` with
``extract.runner.replay`` (the same parsing and loading as live runs);
:func:`row_from_entry` and :func:`land` land modified copies of recorded bodies for the
incremental tests. All times are UTC. Rows go through :class:`extract.loader.Loader`.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from db_helpers import query

import extract.sources  # noqa: F401  (installs the registry a LandingRow built from a source name is looked up in)
from extract import db
from extract.instants import parse_instant as parse_utc
from extract.loader import LandingRow, Loader
from extract.response import Response
from extract.runlog import RunLog
from extract.settings import Settings

#: the team's corpus beside the project (absent in a clone and in CI) and the repository's demo corpus
SHARED_RECORDINGS = Path(__file__).resolve().parents[2] / "shared" / "recordings"
DEMO = Path(__file__).resolve().parents[1] / "demo"
#: True where ../shared/recordings is missing: the dbt tests run on ``demo/`` instead
ON_DEMO = not (SHARED_RECORDINGS / "manifest.jsonl").is_file()


def needs_shared(why: str = "") -> None:
    """Skip, saying why, a test of facts of OpenWeather/AeroDataBox captures when running on ``demo/``."""
    if ON_DEMO:
        import pytest

        pytest.skip(
            f"checks facts of the OpenWeather/AeroDataBox captures of {SHARED_RECORDINGS.parent} (beside the"
            f" project); demo/ cannot hold them: their terms do not allow redistributing responses{why}"
        )


def marts_the_recordings_fill(marts) -> list[str]:
    """Of ``marts``, those the shared recordings (``recordings``, ``recordings-extra``) fill.

    The recordings hold no Open-Meteo or GBFS responses (their marts are built by
    ``test_dbt_open_meteo.py`` and the GBFS tests; the ``demand_*`` marts, computed from
    ``gbfs_trip_events``, by ``test_demand.py``), and whether ``landing_rejects`` and
    ``recent_extract_errors`` hold rows depends on the corpus having a bad record or request.
    """
    left_out = {"weather_hourly_forecasts", "landing_rejects", "recent_extract_errors"}
    return [mart for mart in marts if mart not in left_out and not mart.startswith(("gbfs_", "demand_"))]


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


def gbfs_row(feed: str, payload: dict, system_id: str, fetched_at: datetime) -> LandingRow:
    """The landing row of one GBFS ``feed`` document of ``system_id`` fetched at ``fetched_at`` (HTTP 200)."""
    from extract.sources.gbfs import GBFS

    body = json.dumps(payload).encode()
    response = Response(
        "gbfs", {"system_id": system_id, "feed": feed}, "GET", "https://x", {}, fetched_at, 200, "", body
    )
    (row,) = GBFS.parse(response)
    return row


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


def land_corpus(settings: Settings, recordings: Path) -> None:
    """Fill the landing tables with the whole recorded corpus, through the extractors' replay."""
    from extract.runner import replay

    summary = replay(settings, recordings)
    assert summary.ok, summary


def mart_checksums(settings: Settings, marts) -> dict[str, tuple[int, str]]:
    """:func:`table_checksum` of each of ``marts``, read as the analyst."""
    conn = db.connect(settings, "analyst", database=settings.marts_database)
    try:
        return {mart: table_checksum(conn, mart) for mart in marts}
    finally:
        conn.close()


def reconciliation_totals(settings: Settings, source: str) -> tuple:
    """``landing_reconciliation`` of ``source`` summed: (landing rows, records in payloads, staged, rejected,
    rows whose records are not staged + rejected)."""
    return query(
        settings,
        "select count(*), sum(records_in_payload), sum(records_staged), sum(records_rejected),"
        " sum(records_in_payload <> records_staged + records_rejected)"
        " from landing_reconciliation where source_name = %s",
        (source,),
    )[0]


def assert_incremental_equals_full_rebuild(settings: Settings, kwargs: dict, models: list[str], sql: str) -> None:
    """With nothing new landed, an incremental run of ``models`` writes no row, and a full rebuild gives the
    rows of ``sql`` (a marts query) the incremental build had. ``kwargs``: :func:`run_dbt`'s paths."""
    from transform.dbt_runner import run_dbt

    incremental = query(settings, sql)
    result = run_dbt(["run", "-s", *models, "--vars", "{incremental_lookback_hours: 0}"], settings, **kwargs)
    assert result.success
    for r in result.result.results:
        assert r.adapter_response.get("rows_affected") == 0, r.node.name
    result = run_dbt(["run", "--full-refresh", "-s", *models], settings, **kwargs)
    assert result.success
    assert query(settings, sql) == incremental


def dbt_process_env(settings: Settings, admin_user: str, work: Path) -> dict[str, str]:
    """The environment of a child ``python -m gans dbt ...`` pointed at ``settings``' server as ``admin_user``,
    writing its target and logs under ``work`` (a child process: dbt cannot run twice at once in one)."""
    from transform.dbt_runner import dbt_environment

    env = dict(os.environ)
    env.update(dbt_environment(settings))
    env.update(
        GANS_ADMIN_USER=admin_user,
        GANS_ADMIN_PASSWORD=settings.admin_password.get_secret_value(),
        DBT_TARGET_PATH=str(work / "target"),
        DBT_LOG_PATH=str(work / "logs"),
    )
    return env


def table_checksum(conn, table: str) -> tuple[int, str]:
    """(row count, SHA-256 over all rows in primary-column order) of ``table``: equal means unchanged."""
    with conn.cursor() as cur:
        cur.execute(f"select * from {table}")
        rows = sorted(repr(row) for row in cur.fetchall())
    digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return len(rows), digest
