"""Lambda entry point of the scheduled raw retention (``python -m gans retention`` in the cloud).

``GbfsRetentionSchedule`` in ``template.yaml`` invokes it daily (asynchronously; Lambda retries
twice, then the event goes to the dead-letter queue, and ``RetentionErrorsAlarm`` fires on any
failed invocation). It runs :func:`extract.retention.purge_all` as the loader user (secret
``GANS_DB_SECRET_LOADER``), which holds DELETE on the landing tables of the sources declaring a
retention period only: their rows fetched more than the period (GBFS: ``GANS_GBFS_RETENTION_DAYS``,
default 14) days before now (UTC) are deleted in chunks.

The event may carry ``{"days": N}`` (an integer of at least 1) to override the periods for one
run; anything else in it is ignored (the scheduler's own fields). Returns ``{"deleted": total rows,
"sources": {name: {"cutoff": "<UTC ISO 8601>", "deleted": rows, "days": N}}}``; raises
:class:`ValueError` for a bad ``days`` and the driver's error when the database cannot be reached
(the invocation then fails).
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from gans_lambda import aws_secrets, observability

log = logging.getLogger(__name__)
observability.configure()


def handler(event: dict[str, Any] | None = None, context: Any = None, settings=None) -> dict[str, Any]:
    """Delete the raw rows older than their source's retention period; see the module docstring."""
    from extract.retention import purge_all

    event = event if isinstance(event, dict) else {}
    days = event.get("days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise ValueError(f"days must be an integer of at least 1, got {days!r}")
    settings = settings or aws_secrets.load_settings()
    results = purge_all(settings, days=days)
    report = {
        "deleted": sum(r.deleted for r in results),
        "sources": {
            r.source: {
                "cutoff": r.cutoff.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "deleted": r.deleted,
                "days": r.days,
            }
            for r in results
        },
    }
    log.info("retention done", extra={"event": "retention", **report})
    return report


__all__ = ["handler"]
