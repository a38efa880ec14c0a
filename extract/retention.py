"""Retention of raw GBFS snapshots: delete ``gans_raw.gbfs_feeds`` rows fetched more than N days ago.

A Berlin-sized ``free_bike_status`` is 1-3 MB of JSON and a system is fetched every 15 minutes,
so raw GBFS grows by gigabytes a month; the landing table keeps the last
``GANS_GBFS_RETENTION_DAYS`` (default 14) days, while the dbt models built from it
(``int_gbfs__snapshots``, ``int_gbfs__cell_snapshots``, the GBFS marts) are incremental and keep
their rows for ever. Runs as the loader user, which holds DELETE on ``gbfs_feeds`` only (granted
by :func:`extract.db.bootstrap`): no admin credentials are needed where the extractor runs, and the
other landing tables stay append-only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from extract import db
from extract.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionResult:
    """What a purge did: the UTC cut-off (rows fetched before it were deleted) and the rows deleted."""

    cutoff: datetime
    deleted: int


def purge_gbfs(
    settings: Settings, *, days: int | None = None, now: datetime | None = None, chunk: int = 500
) -> RetentionResult:
    """Delete GBFS landing rows with ``fetched_at`` older than ``days`` (default the setting) before ``now`` (UTC).

    Deletes in chunks of ``chunk`` rows, each its own transaction, so a large backlog neither holds
    long locks nor fills the undo log. Raises :class:`ValueError` for ``days`` < 1 and the driver's
    error when the database cannot be reached.
    """
    days = settings.gbfs_retention_days if days is None else days
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, not {days}")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    cutoff = (moment - timedelta(days=days)).replace(tzinfo=None)
    deleted = 0
    conn = db.connect(settings, "loader")
    try:
        with conn.cursor() as cur:
            while True:
                count = cur.execute(
                    "delete from gbfs_feeds where fetched_at < %s order by fetched_at limit %s", (cutoff, chunk)
                )
                conn.commit()
                deleted += count
                if count < chunk:
                    break
    finally:
        conn.close()
    log.info("gbfs retention: %d rows fetched before %s UTC deleted", deleted, cutoff.isoformat())
    return RetentionResult(cutoff.replace(tzinfo=UTC), deleted)
