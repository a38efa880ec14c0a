"""The run log: ``extract_runs`` (one row per run and source) and ``extract_errors``.

A run is opened as ``running`` (with a lease) before the first request and closed as
``succeeded`` (no error) or ``failed`` (at least one error, counted or recorded) with its
counters. A run still ``running`` past its lease (the process was killed, the database
went away for good) is closed as ``abandoned`` by the next run (:meth:`RunLog.close_abandoned`,
also ``python -m gans runs close-abandoned``), with counters recomputed from the landing
tables and ``extract_errors``.

The loader user cannot write ``extract_runs`` directly: it calls the procedures of
migration 010 (``gans_open_run``, ``gans_renew_run_lease``, ``gans_close_run``,
``gans_close_abandoned_run``). Opening returns a random token that only this process
holds (the row keeps its SHA-256); renewing and closing need it, so a process can close
only its own runs. A run opened with an idempotency key claims it (unique
``claim_sha256``): a second, overlapping run with the same source and key gets
:class:`ClaimTaken`; a failed or abandoned run releases its claim, a succeeded one keeps it.

Each error is written, with the offending body (truncated to :data:`MAX_ERROR_BODY`
characters), in its own transaction as soon as it happens, so it survives a run that dies
later. All times are UTC, taken from the database server's clock. Every method first
reopens a lost connection (once), so a run can still be closed after the server dropped it.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import pymysql

log = logging.getLogger(__name__)

#: characters of a body kept in ``extract_errors.body``
MAX_ERROR_BODY = 1_000_000
#: characters of an error message kept (``extract_errors.message`` is TEXT: 64 KB)
MAX_ERROR_MESSAGE = 10_000
#: seconds a run's lease lasts; the runner renews it every quarter of it while it works (see
#: :meth:`RunLog.renew`). Short enough that a killed Lambda's lease runs out (<= 135 s after its last
#: renewal) before Lambda's second asynchronous retry (about 3 minutes after the failure), which then
#: finds the run abandoned and its key free; long enough for one slow request with its retries.
DEFAULT_LEASE_SECONDS = 180
#: HTTP statuses ``extract_errors.http_status`` (SMALLINT) can hold
_STATUS_RANGE = range(0, 32768)


class ClaimTaken(RuntimeError):
    """Another run holds this source's idempotency key (running, or succeeded): this one must not run."""


@dataclass
class RunCounters:
    """Counters of one run: requests made (or replayed), rows landed, duplicates skipped, errors,
    and secret values replaced by ``***`` in bodies."""

    requests: int = 0
    rows_landed: int = 0
    rows_duplicate: int = 0
    errors: int = 0
    secrets_redacted: int = 0


@dataclass
class Run:
    """An open run: its id in ``extract_runs``, its source, its counters and its owner token (never logged)."""

    id: int
    source: str
    counters: RunCounters
    token: str = ""


def _text(value: str) -> str:
    """``value`` encodable as UTF-8 (a lone surrogate from a malformed body becomes U+FFFD)."""
    return value.encode("utf-8", errors="replace").decode("utf-8")


class RunLog:
    """Writes ``extract_runs`` (through its procedures) and ``extract_errors`` through ``conn`` (the loader's)."""

    def __init__(self, conn: pymysql.Connection, lease_seconds: int = DEFAULT_LEASE_SECONDS):
        self.conn = conn
        self.lease_seconds = lease_seconds

    def _alive(self) -> None:
        try:
            self.conn.ping(reconnect=True)
        except Exception:  # the statement that follows raises the driver's error
            log.debug("reconnect failed", exc_info=True)

    def start(self, source: str, trigger: str, idempotency_key: str | None = None) -> Run:
        """Open a ``running`` run with a lease and return it.

        Raises :class:`ClaimTaken` when ``idempotency_key`` is held by another run of ``source``.
        """
        self._alive()
        token = secrets.token_hex(32)
        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "call gans_open_run(%s, %s, %s, %s, %s)",
                    (source, trigger, idempotency_key, token, self.lease_seconds),
                )
                cur.execute("select last_insert_id()")
                (run_id,) = cur.fetchone()
            self.conn.commit()
        except pymysql.err.IntegrityError as exc:
            self.conn.rollback()
            if exc.args[0] == 1062:
                raise ClaimTaken(f"{source}: idempotency key {idempotency_key!r} is held by another run") from None
            raise
        return Run(int(run_id), source, RunCounters(), token)

    def renew(self, run: Run) -> None:
        """Extend ``run``'s lease by :attr:`lease_seconds` from now."""
        self._alive()
        with self.conn.cursor() as cur:
            cur.execute("call gans_renew_run_lease(%s, %s, %s)", (run.id, run.token, self.lease_seconds))
        self.conn.commit()

    def already_succeeded(self, source: str, idempotency_key: str) -> bool:
        """True when a run of ``source`` with this idempotency key has succeeded before."""
        self._alive()
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
        self._alive()
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
        """Record one failure of ``run`` (committed at once) and count it.

        The body is kept to :data:`MAX_ERROR_BODY` characters, the message to
        :data:`MAX_ERROR_MESSAGE`; a status the column cannot hold (e.g. 99999) is named in
        the message and stored as NULL. Raises the driver's error when the database does not answer.
        """
        run.counters.errors += 1
        if isinstance(body, bytes):
            body = body[: 4 * MAX_ERROR_BODY].decode("utf-8", errors="replace")
        if body is not None:
            body = _text(body[:MAX_ERROR_BODY])
        if http_status is not None and http_status not in _STATUS_RANGE:
            message = f"{message} (HTTP status {http_status} is outside what the column holds)"
            http_status = None
        message = _text(message[:MAX_ERROR_MESSAGE])
        key_json = None if request_key is None else _text(json.dumps(request_key, ensure_ascii=False, sort_keys=True))
        log.warning("%s %s: %s: %s", run.source, key_json, error_type, message[:2000])
        self._alive()
        with self.conn.cursor() as cur:
            cur.execute(
                "insert into extract_errors"
                " (run_id, source, request_key, error_type, message, http_status, body, occurred_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, utc_timestamp(6))",
                (run.id, run.source, key_json, _text(error_type[:100]), message, http_status, body),
            )
        self.conn.commit()

    def finish(self, run: Run) -> str:
        """Close ``run`` with its counters; returns the status written (succeeded or failed).

        ``failed`` when the counters or ``extract_errors`` hold an error for the run. Raises
        :class:`RuntimeError` when the run is not this process's open run (wrong token, already closed).
        """
        c = run.counters
        self._alive()
        with self.conn.cursor() as cur:
            cur.execute(
                "call gans_close_run(%s, %s, %s, %s, %s, %s, %s)",
                (run.id, run.token, c.requests, c.rows_landed, c.rows_duplicate, c.errors, c.secrets_redacted),
            )
            cur.execute(
                "select status, errors from extract_runs where id = %s and owner_token_sha256 = sha2(%s, 256)",
                (run.id, run.token),
            )
            found = cur.fetchone()
        self.conn.commit()
        if found is None or found[0] == "running":
            raise RuntimeError(f"run {run.id} could not be closed: not open, or not this process's run")
        c.errors = max(c.errors, int(found[1]))
        return str(found[0])

    def close_abandoned(self) -> list[int]:
        """Close every run still ``running`` past its lease as ``abandoned``; returns their ids.

        ``rows_landed`` is counted in the run's landing table, ``errors`` in ``extract_errors``
        and ``requests`` is their sum (a lower bound: duplicates were not recorded). Safe to call
        concurrently: a run is closed once (the procedure checks it is still running and expired).
        """
        from extract.sources import REGISTRY

        self._alive()
        with self.conn.cursor() as cur:
            cur.execute(
                "select id, source from extract_runs where status = 'running'"
                " and (lease_until is null or lease_until < utc_timestamp(6)) order by id"
            )
            expired = list(cur.fetchall())
        self.conn.commit()
        closed: list[int] = []
        for run_id, source in expired:
            landed = 0
            if source in REGISTRY:
                with self.conn.cursor() as cur:
                    cur.execute(f"select count(*) from {REGISTRY[source].landing_table} where run_id = %s", (run_id,))
                    (landed,) = cur.fetchone()
            with self.conn.cursor() as cur:
                cur.execute("call gans_close_abandoned_run(%s, %s)", (run_id, int(landed)))
                cur.execute("select status from extract_runs where id = %s", (run_id,))
                (status,) = cur.fetchone()
            self.conn.commit()
            if status == "abandoned":
                closed.append(int(run_id))
                log.warning("run %s (%s) was still running past its lease: closed as abandoned", run_id, source)
        return closed
