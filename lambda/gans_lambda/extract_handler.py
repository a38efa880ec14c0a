"""Lambda entry point of the extraction: the same :func:`extract.runner.extract` as the CLI.

Event (the EventBridge Scheduler target's ``Input``, see ``template.yaml``; the
scheduler replaces ``<aws.scheduler.scheduled-time>`` and ``<aws.scheduler.execution-id>``)::

    {"schedule": "gans-forecasts",
     "scheduled_time": "2026-11-21T15:05:00Z",      # UTC instant the schedule fired for
     "execution_id": "...",                         # differs per delivery attempt; logged only
     "sources": ["openweather"],                    # or "source": "openweather"
     "cities": ["Berlin"],                          # optional: default all tracked cities
     "window": "coming_day",                        # flights: the day after the scheduled
                                                    # time (Europe/Berlin), or
                                                    # {"start": ISO-8601, "end": ISO-8601} with offsets
     "transform": {"select": "..."}}                # passed on to the transform function

Delivery is at least once (Scheduler retries, Lambda's asynchronous retries). Each
source runs with the idempotency key ``<schedule>@<scheduled_time>/<source>``: a
re-delivered event skips every source whose run with that key succeeded (nothing is
fetched again), and re-fetches only those that failed; the landing tables ignore
a response stored before (payload hash), so a partly landed run lands no copy either.
The key is claimed atomically as the run opens (``extract_runs.claim_sha256`` is unique):
of several overlapping deliveries one runs; the others report ``in_progress`` and raise
:class:`ExtractFailed`, so Lambda retries them: by then the key is done (``skipped``) or its
holder was killed, its lease ran out and the retry closes it as abandoned and runs.
The window is derived from ``scheduled_time``, never from the clock, so a retry
the next morning asks for the same flights. Events without a schedule (manual
invocations) may carry their own ``idempotency_key``.

Returns ``{"ok", "landed", "landed_total", "sources": [{source, run_id, status, requests,
landed, landed_total, duplicates, errors}], "transform"}`` (``transform`` copied from the
event, for the OnSuccess destination). ``landed`` counts the rows this attempt stored;
``landed_total`` the rows stored under the source's idempotency key by every attempt
(counted in the landing tables), which the transform function decides on: a retry after
an attempt that landed everything and then failed lands only duplicates, yet its rows
still need the transform. Raises :class:`ExtractFailed` when a source failed, after
every source ran, so the invocation is retried and finally dead-lettered; raises
:class:`BadExtractEvent` for an event it cannot run.

Logs (JSON in Lambda, see :mod:`gans_lambda.observability`) one line per source run
(``"event": "extract_source"``: source, status, run id, counts) and, on every invocation,
one per source with the hours since its last success (:func:`log_freshness`), which the
template's per-source alarms read.

Responses that could not be landed are spooled under ``GANS_SPOOL_DIR`` (default
``/tmp/gans/spool``, the only writable place in Lambda; the error names the folder).
``GANS_API_BASE_URLS`` (JSON, e.g. ``{"openweather": "http://127.0.0.1:8080"}``)
overrides the API roots (tests, proxies).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gans_lambda import aws_secrets, observability

log = logging.getLogger(__name__)
observability.configure()

#: time zone of the schedules; "coming_day" is the day after the scheduled time here
SCHEDULE_ZONE = ZoneInfo("Europe/Berlin")


class BadExtractEvent(ValueError):
    """The event cannot be run as it is; the message names the field."""


class ExtractFailed(RuntimeError):
    """At least one source failed; the message lists them, the run log has the details."""


def _instant(value: Any, field: str) -> datetime:
    from extract.instants import parse_instant

    if not isinstance(value, str) or value.startswith("<aws."):
        raise BadExtractEvent(f"{field} must be an ISO-8601 instant, got {value!r}")
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise BadExtractEvent(f"{field} must be an ISO-8601 instant with a UTC offset, got {value!r} ({exc})") from None


def parse_event(event: dict[str, Any]) -> dict[str, Any]:
    """Validate ``event``; returns ``{"sources", "cities", "window", "schedule", "scheduled_time",
    "execution_id", "idempotency_key", "transform"}`` (window: aware datetimes or None).

    Raises :class:`BadExtractEvent` naming the bad field.
    """
    from extract.instants import coming_day
    from extract.sources import SOURCES

    if not isinstance(event, dict):
        raise BadExtractEvent("the event must be a JSON object")
    sources = event.get("sources", event.get("source"))
    if isinstance(sources, str):
        sources = [sources]
    if not sources or not isinstance(sources, list):
        raise BadExtractEvent(f"sources must name some of {', '.join(SOURCES)}")
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise BadExtractEvent(f"unknown source(s) {unknown}; expected some of {', '.join(SOURCES)}")
    cities = event.get("cities")
    if cities is not None and (not isinstance(cities, list) or not all(isinstance(c, str) for c in cities)):
        raise BadExtractEvent("cities must be a list of city names")

    schedule = event.get("schedule")
    scheduled = _instant(event["scheduled_time"], "scheduled_time") if event.get("scheduled_time") else None
    if schedule and scheduled is None:
        raise BadExtractEvent("a scheduled event needs scheduled_time (<aws.scheduler.scheduled-time>)")

    window_spec = event.get("window")
    window = None
    if window_spec == "coming_day":
        window = coming_day(SCHEDULE_ZONE, scheduled or datetime.now(UTC))
    elif isinstance(window_spec, dict):
        window = (_instant(window_spec.get("start"), "window.start"), _instant(window_spec.get("end"), "window.end"))
        if window[0] >= window[1]:
            raise BadExtractEvent("window.start must be before window.end")
    elif window_spec is not None:
        raise BadExtractEvent('window must be "coming_day" or {"start": ..., "end": ...}')

    key = event.get("idempotency_key")
    if schedule and scheduled is not None:
        key = f"{schedule}@{scheduled.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    if key is not None and (not isinstance(key, str) or len(key) > 200):
        raise BadExtractEvent("idempotency_key must be a string of at most 200 characters")
    transform = event.get("transform")
    if transform is not None and not isinstance(transform, dict):
        raise BadExtractEvent("transform must be an object")
    return {
        "sources": [s for s in SOURCES if s in sources],
        "cities": cities,
        "window": window,
        "schedule": schedule,
        "scheduled_time": scheduled,
        "execution_id": event.get("execution_id"),
        "idempotency_key": key,
        "transform": transform,
    }


def _base_urls() -> dict[str, str] | None:
    raw = os.environ.get("GANS_API_BASE_URLS")
    if not raw:
        return None
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise BadExtractEvent("GANS_API_BASE_URLS must be a JSON object")
    return value


def _add_landed_totals(settings, results: list[dict[str, Any]]) -> None:
    """Set ``landed_total`` on each result: rows landed under its idempotency key by every attempt.

    A retry after an attempt that landed its rows and then failed lands only duplicates
    (``landed`` 0), yet those rows were never transformed: the transform decides on this
    total. Without a key it is the attempt's own ``landed``.
    """
    from extract import db
    from extract.runlog import RunLog

    keyed = [r for r in results if r["idempotency_key"]]
    for r in results:
        r["landed_total"] = r["landed"]
    if not keyed:
        return
    conn = db.connect(settings, "loader")
    try:
        runlog = RunLog(conn)
        for r in keyed:
            r["landed_total"] = runlog.landed_under_key(r["source"], r["idempotency_key"])
    finally:
        conn.close()


#: the value logged for a source that never succeeded: above every alarm's threshold
NEVER_SUCCEEDED_HOURS = 100_000.0


def log_freshness(settings) -> dict[str, float]:
    """Log, per source, the hours since its last successful run (any trigger); return them.

    One JSON line per source, ``{"event": "source_freshness", "source",
    "hours_since_success"}``: the metric filter in ``template.yaml`` turns them into the
    ``HoursSinceSuccess`` metric (dimension ``Source``) whose alarms fire when a source
    had no successful extraction in its period. Every invocation logs every source, so
    the three-hourly forecasts schedule keeps all four metrics current; a source that
    never succeeded logs :data:`NEVER_SUCCEEDED_HOURS`. Read from ``extract_runs`` as the
    loader (SELECT on ``gans_raw``); times are UTC.
    """
    from extract import db
    from extract.sources import SOURCES

    conn = db.connect(settings, "loader")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select source, timestampdiff(second, max(finished_at), utc_timestamp(6)) / 3600"
                " from extract_runs where status = 'succeeded' group by source"
            )
            ages = {source: float(hours) for source, hours in cur.fetchall() if hours is not None}
    finally:
        conn.close()
    hours = {source: round(ages.get(source, NEVER_SUCCEEDED_HOURS), 2) for source in SOURCES}
    for source, value in hours.items():
        log.info(
            "%s: %s h since its last successful extraction",
            source,
            value,
            extra={"event": "source_freshness", "source": source, "hours_since_success": value},
        )
    return hours


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Lambda entry point: extract what ``event`` asks for (see the module docstring)."""
    from extract.runner import extract

    request = parse_event(event)
    settings = aws_secrets.load_settings()
    log.info(
        "extract %s (schedule %s, scheduled %s, execution %s, key %s)",
        request["sources"],
        request["schedule"],
        request["scheduled_time"],
        request["execution_id"],
        request["idempotency_key"],
    )
    results = []
    base_urls = _base_urls()
    # One call per source, each with its own key, in pipeline order: flights read the
    # airports landed before them, and a retry redoes only the sources that failed.
    for source in request["sources"]:
        key = f"{request['idempotency_key']}/{source}" if request["idempotency_key"] else None
        summary = extract(
            settings,
            sources=[source],
            cities=request["cities"],
            window=request["window"],
            trigger="lambda",
            idempotency_key=key,
            base_urls=base_urls,
            spool_dir=os.environ.get("GANS_SPOOL_DIR", "/tmp/gans/spool"),
        )
        for r in summary.results:
            results.append(
                {
                    "source": r.source,
                    "run_id": r.run_id,
                    "status": r.status,
                    "requests": r.requests,
                    "landed": r.landed,
                    "duplicates": r.duplicates,
                    "errors": r.errors,
                    "idempotency_key": key,
                    "spooled_to": [str(p) for p in summary.spool_dirs],
                }
            )
    _add_landed_totals(settings, results)
    for r in results:
        # one structured line per source: the per-source success metric and alarm read it
        log.info(
            "extract %s: %s, %s landed (%s in all attempts), %s errors, run %s",
            r["source"], r["status"], r["landed"], r["landed_total"], r["errors"], r["run_id"],
            extra={"event": "extract_source", "schedule": request["schedule"],
                   **{k: r[k] for k in ("source", "status", "run_id", "requests", "landed",
                                        "landed_total", "duplicates", "errors", "idempotency_key")}},
        )  # fmt: skip
    report = {
        "ok": all(r["status"] not in ("failed", "in_progress") and r["errors"] == 0 for r in results),
        "landed": sum(r["landed"] for r in results),
        "landed_total": sum(r["landed_total"] for r in results),
        "sources": results,
        "schedule": request["schedule"],
        "scheduled_time": None if request["scheduled_time"] is None else request["scheduled_time"].isoformat(),
        "transform": request["transform"],
    }
    log.info("extract result %s", json.dumps(report))
    try:
        log_freshness(settings)
    except Exception:  # the metric is a nicety next to the extraction's own outcome
        log.exception("could not log the sources' freshness")
    if not report["ok"]:
        failed = [f"{r['source']} (run {r['run_id']}, {r['errors']} errors)" for r in results if r["errors"]]
        held = [r["source"] for r in results if r["status"] == "in_progress"]
        if held:  # raised so that Lambda retries the delivery once the holder succeeded or its lease ran out
            failed.append(f"{', '.join(held)} (idempotency key held by another run)")
        raise ExtractFailed("extraction failed for " + ", ".join(failed) + "; see extract_errors")
    return report
