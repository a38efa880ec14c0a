"""Lambda entry point of the scheduled GBFS raw retention (``python -m gans gbfs-retention`` in the cloud).

``GbfsRetentionSchedule`` in ``template.yaml`` invokes it daily (asynchronously; Lambda retries
twice, then the event goes to the dead-letter queue, and ``RetentionErrorsAlarm`` fires on any
failed invocation). It runs :func:`extract.retention.purge_gbfs` as the loader user (secret
``GANS_DB_SECRET_LOADER``), which holds DELETE on ``gans_raw.gbfs_feeds`` only: rows fetched more
than ``GANS_GBFS_RETENTION_DAYS`` (default 14) days before now (UTC) are deleted in chunks.

The event may carry ``{"days": N}`` (an integer of at least 1) to override the setting for one
run; anything else in it is ignored (the scheduler's own fields). Returns
``{"cutoff": "<UTC ISO 8601>", "deleted": rows, "days": N}``; raises :class:`ValueError` for a bad
``days`` and the driver's error when the database cannot be reached (the invocation then fails).
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from gans_lambda import aws_secrets, observability

log = logging.getLogger(__name__)
observability.configure()


def handler(event: dict[str, Any] | None = None, context: Any = None, settings=None) -> dict[str, Any]:
    """Delete raw GBFS snapshots older than the retention period; see the module docstring."""
    from extract.retention import purge_gbfs

    event = event if isinstance(event, dict) else {}
    days = event.get("days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise ValueError(f"days must be an integer of at least 1, got {days!r}")
    settings = settings or aws_secrets.load_settings()
    days = settings.gbfs_retention_days if days is None else days
    result = purge_gbfs(settings, days=days)
    cutoff = result.cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = {"cutoff": cutoff, "deleted": result.deleted, "days": days}
    log.info("gbfs retention done", extra={"event": "gbfs_retention", **report})
    return report


__all__ = ["handler"]
