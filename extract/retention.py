"""Retention of raw landing rows: a source that declares a retention period keeps only its recent rows.

A source declares its period with :attr:`~extract.sources.base.Source.retention_setting`, the
:class:`~extract.settings.Settings` field holding the days (:meth:`Source.retention_days`; None:
kept for ever, the default). GBFS declares one: a Berlin-sized ``free_bike_status`` is 1-3 MB of
JSON fetched every 15 minutes, so its raw snapshots grow by gigabytes a month, while the dbt models
built from them are incremental and keep their rows for ever.

:func:`purge_all` (``python -m gans retention``, ``make retention``, the scheduled
``RetentionFunction``) deletes, for every such source, the landing rows fetched more than its
period ago. It runs as the loader user, which holds DELETE on exactly those landing tables (granted
by :func:`extract.db.bootstrap` from the same declarations): no admin credentials are needed where
the extractor runs, and the other landing tables stay append-only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from extract import db
from extract.settings import Settings
from extract.sources import REGISTRY, Source, get

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionResult:
    """What a purge of one source did: its landing table, the period (days), the UTC cut-off (rows
    fetched before it were deleted) and the rows deleted."""

    source: str
    table: str
    days: int
    cutoff: datetime
    deleted: int


def retained_sources() -> list[Source]:
    """The registered sources that declare a retention period, in run order."""
    return [s for s in REGISTRY.values() if s.retention_setting is not None]


def purge(
    settings: Settings, source: Source, *, days: int | None = None, now: datetime | None = None, chunk: int = 500
) -> RetentionResult:
    """Delete ``source``'s landing rows with ``fetched_at`` older than ``days`` (default: the source's
    declared period) before ``now`` (UTC).

    Deletes in chunks of ``chunk`` rows, each its own transaction, so a large backlog neither holds
    long locks nor fills the undo log. Raises :class:`ValueError` for a source without a declared
    period or ``days`` < 1, and the driver's error when the database cannot be reached or the loader
    holds no DELETE on the table (a source whose declaration changed since the last bootstrap).
    """
    declared = source.retention_days(settings)
    if declared is None:
        raise ValueError(f"source {source.name!r} declares no retention period")
    days = declared if days is None else days
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, not {days}")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    cutoff = (moment - timedelta(days=days)).replace(tzinfo=None)
    table = db.quote_ident(source.landing_table)
    deleted = 0
    conn = db.connect(settings, "loader")
    try:
        with conn.cursor() as cur:
            while True:
                count = cur.execute(
                    f"delete from {table} where fetched_at < %s order by fetched_at limit %s", (cutoff, chunk)
                )
                conn.commit()
                deleted += count
                if count < chunk:
                    break
    finally:
        conn.close()
    log.info("%s retention: %d rows fetched before %s UTC deleted", source.name, deleted, cutoff.isoformat())
    return RetentionResult(source.name, source.landing_table, days, cutoff.replace(tzinfo=UTC), deleted)


def purge_all(
    settings: Settings,
    *,
    sources: Sequence[str] | None = None,
    days: int | None = None,
    now: datetime | None = None,
    chunk: int = 500,
) -> list[RetentionResult]:
    """:func:`purge` every source declaring a retention period (or only ``sources``, names), in run order.

    ``days`` overrides every source's period for this call. Raises :class:`ValueError` before any
    deletion for an unknown source name or one that declares no period.
    """
    chosen = retained_sources()
    if sources is not None:
        wanted = [get(name) for name in sources]
        undeclared = [s.name for s in wanted if s.retention_setting is None]
        if undeclared:
            names = ", ".join(s.name for s in chosen) or "none"
            raise ValueError(f"no retention period declared by {', '.join(undeclared)} (declared by: {names})")
        chosen = [s for s in chosen if s in wanted]
    if days is not None and days < 1:
        raise ValueError(f"retention must be at least 1 day, not {days}")
    return [purge(settings, source, days=days, now=now, chunk=chunk) for source in chosen]
