"""The scheduled retention's handler (``gans_lambda.retention_handler``), in-process against the test MariaDB.

The loader's password comes from moto's Secrets Manager only (``aws`` fixture of
``test_lambda_handlers``), as ``RetentionFunction`` reads it; the retention period from
``GANS_GBFS_RETENTION_DAYS``, the template's ``GbfsRetentionDays``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from extract import db
from extract.retention import retained_sources
from extract.sources.gbfs import GBFS
from tests.dbt_helpers import land
from tests.test_gbfs import _row, _v3_vehicles
from tests.test_lambda_handlers import aws, restore_environ  # noqa: F401  (fixtures)

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lambda"))

from gans_lambda import retention_handler  # noqa: E402


def _fetched(settings) -> list[str]:
    conn = db.connect(settings, "loader")
    try:
        with conn.cursor() as cur:
            cur.execute("select system_id from gbfs_feeds order by fetched_at")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def test_scheduled_retention_deletes_snapshots_older_than_the_period(aws, settings, monkeypatch):  # noqa: F811
    now = datetime.now(UTC).replace(microsecond=0)
    ages = {"old_20d": 20, "old_8d": 8, "young_2d": 2}
    rows = [
        _row("vehicle_status", _v3_vehicles((now - timedelta(days=d)).isoformat(), []), name, now - timedelta(days=d))
        for name, d in ages.items()
    ]
    assert land(settings, rows) == 3
    monkeypatch.delenv("GANS_LOADER_PASSWORD", raising=False)  # only the secret supplies it
    monkeypatch.setenv("GANS_GBFS_RETENTION_DAYS", "14")
    event = {"schedule": "gans-gbfs-retention", "scheduled_time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    report = retention_handler.handler(event, None)
    # every source declaring a retention period is purged (GBFS's rows are the only ones landed here)
    assert report["sources"].keys() == {s.name for s in retained_sources()}
    gbfs = report["sources"][GBFS.name]
    assert report["deleted"] == gbfs["deleted"] == 1 and gbfs["days"] == 14
    assert gbfs["cutoff"].endswith("Z")
    # the function's clock, read after the test's: 14 days before an instant between the two
    cutoff = datetime.fromisoformat(gbfs["cutoff"])
    assert now - timedelta(days=14) <= cutoff <= datetime.now(UTC) - timedelta(days=14)
    assert _fetched(settings) == ["old_8d", "young_2d"]
    # one run with a shorter period (a manual invocation)
    assert retention_handler.handler({"days": 5}, None)["deleted"] == 1
    assert _fetched(settings) == ["young_2d"]
    for bad in (0, "7", True, 1.5):
        with pytest.raises(ValueError, match="days must be an integer"):
            retention_handler.handler({"days": bad}, None)
    assert _fetched(settings) == ["young_2d"]
