"""The run log: ``extract_runs`` (one row per run and source) and ``extract_errors``.

A run is opened as ``running`` before the first request and closed as
``succeeded`` (no error) or ``failed`` (at least one error) with its counters.
Each error is written, with the offending body (truncated to 1 MB), in its own
transaction as soon as it happens, so it survives a run that dies later.
All times are UTC, taken from the database server's clock.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import pymysql

log = logging.getLogger(__name__)

MAX_ERROR_BODY = 1_000_000


@dataclass
class RunCounters:
    """Counters of one run: requests made (or replayed), rows landed, duplicates skipped, errors."""

    requests: int = 0
    rows_landed: int = 0
    rows_duplicate: int = 0
    errors: int = 0


@dataclass
class Run:
    """An open run: its id in ``extract_runs``, its source and its counters."""

    id: int
    source: str
    counters: RunCounters


class RunLog:
    """Writes ``extract_runs`` and ``extract_errors`` through ``conn`` (the loader's connection)."""

    def __init__(self, conn: pymysql.Connection):
        self.conn = conn

    def start(self, source: str, trigger: str, idempotency_key: str | None = None) -> Run:
        """Insert a ``running`` row and return the open :class:`Run`."""
        with self.conn.cursor() as cur:
            cur.execute(
                "insert into extract_runs (source, run_trigger, idempotency_key, started_at, status)"
                " values (%s, %s, %s, utc_timestamp(6), 'running')",
                (source, trigger, idempotency_key),
            )
            run_id = cur.lastrowid
        self.conn.commit()
        return Run(run_id, source, RunCounters())

    def already_succeeded(self, source: str, idempotency_key: str) -> bool:
        """True when a run of ``source`` with this idempotency key has succeeded before."""
        with self.conn.cursor() as cur:
            cur.execute(
                "select 1 from extract_runs"
                " where source = %s and idempotency_key = %s and status = 'succeeded' limit 1",
                (source, idempotency_key),
            )
            found = cur.fetchone() is not None
        self.conn.commit()
        return found

    def landed_under_key(self, source: str, idempotency_key: str) -> int:
        """Rows of ``source``'s landing table stored by any run with this idempotency key (every attempt).

        Counted from the landing rows themselves (``run_id`` of a run with the key), so rows
        of an attempt that died before :meth:`finish` wrote its counters count too; a row
        landed before under another key (a duplicate now) does not.
        """
        from extract.sources import get

        table = get(source).landing_table
        with self.conn.cursor() as cur:
            cur.execute(
                f"select count(*) from {table} t join extract_runs r on r.id = t.run_id"
                " where r.source = %s and r.idempotency_key = %s",
                (source, idempotency_key),
            )
            (count,) = cur.fetchone()
        self.conn.commit()
        return int(count)

    def error(
        self,
        run: Run,
        request_key: dict[str, Any] | None,
        error_type: str,
        message: str,
        http_status: int | None = None,
        body: str | bytes | None = None,
    ) -> None:
        """Record one failure of ``run`` (committed at once) and count it."""
        run.counters.errors += 1
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        if body is not None and len(body) > MAX_ERROR_BODY:
            body = body[:MAX_ERROR_BODY]
        log.warning("%s %s: %s: %s", run.source, json.dumps(request_key, ensure_ascii=False), error_type, message)
        with self.conn.cursor() as cur:
            cur.execute(
                "insert into extract_errors"
                " (run_id, source, request_key, error_type, message, http_status, body, occurred_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, utc_timestamp(6))",
                (
                    run.id,
                    run.source,
                    None if request_key is None else json.dumps(request_key, ensure_ascii=False, sort_keys=True),
                    error_type[:100],
                    message,
                    http_status,
                    body,
                ),
            )
        self.conn.commit()

    def finish(self, run: Run) -> str:
        """Close ``run`` with its counters; returns the status written (succeeded or failed)."""
        status = "failed" if run.counters.errors else "succeeded"
        c = run.counters
        with self.conn.cursor() as cur:
            cur.execute(
                "update extract_runs set finished_at = utc_timestamp(6), status = %s, requests = %s,"
                " rows_landed = %s, rows_duplicate = %s, errors = %s where id = %s",
                (status, c.requests, c.rows_landed, c.rows_duplicate, c.errors, run.id),
            )
        self.conn.commit()
        return status
