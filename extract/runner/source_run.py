"""One source's run (:class:`SourceRun`): count, check, parse, record errors, land in batches, spool.

Live runs and replays hand every response to :meth:`SourceRun.handle`; whatever goes wrong with one
response (a bad status, key, body or row size, a refused batch) is one ``extract_errors`` row through
:meth:`SourceRun.error` and the run carries on. When the database cannot be reached, the batch's
responses are written to a :class:`Spool` folder (live runs; a replay's recordings stay where they
are). :func:`landing_session` opens the one connection all runs of a call share.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pymysql

from extract import db
from extract.http import HostUnreachable, redact, redact_body, register_settings_secrets, scrub_secrets
from extract.loader import LandingRow, Loader, LoadError
from extract.recording import Recorder
from extract.response import RequestSpec, Response
from extract.runlog import Run, RunLog
from extract.settings import LOCAL_DIR, Settings
from extract.sources import ParseError, Source

from .summary import SourceResult, Summary

# one logger for all of the runner's modules: operators filter on "extract.runner"
log = logging.getLogger(__package__)


class SourceRun:
    """The run of one source: counts requests, records errors, lands rows in batches, spools on failure."""

    def __init__(
        self,
        source: Source,
        runlog: RunLog,
        loader: Loader,
        run: Run,
        *,
        recorder: Recorder | None,
        spool: Spool,
        batch_size: int,
        replay_dir: Path | None = None,
    ):
        self.source = source
        self.runlog = runlog
        self.loader = loader
        self.run = run
        self.recorder = recorder
        self.spool = spool
        self.batch_size = max(1, batch_size)
        self.replay_dir = replay_dir
        self.result = SourceResult(source.name, run.id, run.counters)
        self._batch: list[tuple[Response, list[LandingRow]]] = []
        self._row_limit: int | None = None
        self._renewed = time.monotonic()

    def error(
        self,
        key: dict | None,
        error_type: str,
        message: str,
        http_status: int | None = None,
        body: bytes | str | None = None,
    ) -> None:
        """Record an error in ``extract_errors`` (if the database answers) and count it.

        The message and the body are redacted first (:func:`extract.http.redact`): an
        upstream error page may echo the request URL with its ``appid=<key>``.
        """
        message = redact(message)
        if isinstance(body, bytes):
            body = redact_body(body)
        elif body is not None:
            body = redact(body)
        self.result.messages.append(message)
        try:
            self.runlog.error(self.run, key, error_type, message, http_status=http_status, body=body)
        except Exception as exc:  # database gone (RunLog.error counted it first): the count and the log line remain
            log.error("%s %s: %s: %s (not recorded in extract_errors: %s)", self.source, key, error_type, message, exc)

    def handle(self, fetched: Response) -> list[LandingRow]:
        """Count, record, check (status, key), parse and queue one response; returns its landing rows ([] on error).

        Whatever the body holds (not JSON, nested thousands deep, integers JSON cannot carry, lone
        surrogates, larger than the server's packet), the outcome is queued rows or one
        ``extract_errors`` row with the reason and the (capped) body: never an exception. A configured
        secret found in the body is replaced by ``***`` before anything else sees it (counted in
        ``extract_runs.secrets_redacted``).
        """
        self.run.counters.requests += 1
        self._keep_lease()
        fetched = self._scrubbed(fetched)
        if self.recorder is not None:
            try:
                self.recorder.record(fetched)
            except OSError as exc:
                self.error(fetched.key, "RecordError", f"could not write the recording: {exc}")
        if fetched.status not in self.source.ok_statuses:
            return self._reject(fetched, "HttpStatus", f"HTTP {fetched.status} from {fetched.url}")
        try:
            self.source.check_key(fetched.key)
            rows = self.source.parse(fetched)
            sizes = [row.statement_bytes() for row in rows]
        except ParseError as exc:
            return self._reject(fetched, "ParseError", str(exc))
        except Exception as exc:  # noqa: BLE001 - a body the parser or serialiser chokes on is data, not a crash
            return self._reject(fetched, "ParseError", f"unusable body: {type(exc).__name__}: {exc}")
        limit = self._max_row_bytes()
        if limit is not None and sizes and max(sizes) > limit:
            return self._reject(
                fetched,
                "TooLarge",
                f"{max(sizes)} bytes to send for one row; the server accepts at most {limit} (max_allowed_packet)",
            )
        self._batch.append((fetched, rows))
        if len(self._batch) >= self.batch_size:
            self.flush()
        return rows

    def _scrubbed(self, fetched: Response) -> Response:
        """``fetched`` with every configured secret in its body replaced by ``***`` (counted and logged)."""
        body, found = scrub_secrets(fetched.body)
        if not found:
            return fetched
        self.run.counters.secrets_redacted += found
        log.warning("%s %s: %d secret value(s) in the body replaced by ***", self.source, fetched.key, found)
        return fetched.with_body(body)

    def _reject(self, fetched: Response, error_type: str, message: str) -> list[LandingRow]:
        """Record why ``fetched`` lands nothing, with its key, status and body; returns no rows."""
        self.error(fetched.key, error_type, message, http_status=fetched.status, body=fetched.body)
        return []

    def skip(self, key: dict, reason: str) -> None:
        """Count a request the source chose not to make (e.g. a feed still within its ttl); logged, not an error."""
        self.result.skipped += 1
        log.info("%s %s: not fetched: %s", self.source.name, json.dumps(key, ensure_ascii=False), reason)

    def _max_row_bytes(self) -> int | None:
        """The server's row size limit (:meth:`Loader.max_row_bytes`); None while the database does not answer."""
        if self._row_limit is None:
            try:
                self._row_limit = self.loader.max_row_bytes()
            except Exception as exc:  # the batch that follows records the database's state
                log.warning("%s: could not read the server's packet limit: %s", self.source, exc)
        return self._row_limit

    def _keep_lease(self) -> None:
        """Renew the run's lease when a quarter of it has passed (a killed process stops renewing)."""
        now = time.monotonic()
        if now - self._renewed < self.runlog.lease_seconds / 4:
            return
        try:
            self.runlog.renew(self.run)
            self._renewed = now
        except Exception as exc:  # database gone: the batch that follows records it
            log.warning("%s: could not renew the lease of run %s: %s", self.source, self.run.id, exc)

    def fetch_failed(self, spec: RequestSpec, exc: Exception) -> None:
        """Count a request that got no response (connection error, timeout) and record the error.

        A :class:`HostUnreachable` request was not sent: an error, not a request, counted per host.
        """
        if isinstance(exc, HostUnreachable):
            self.result.unreachable += 1
            self.result.unreachable_hosts[exc.host] = self.result.unreachable_hosts.get(exc.host, 0) + 1
        else:
            self.run.counters.requests += 1
        self.error(spec.key, type(exc).__name__, str(exc))

    def flush(self) -> None:
        """Land the queued rows in one transaction.

        When the server refuses the data (not the connection), the batch is split in halves until
        the responses it refuses are found: the others land, each refused one is an
        ``extract_errors`` row with its body. When the database cannot be reached (after the
        loader reopened the connection once), the responses are spooled and the error recorded.
        """
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        self._land(batch)

    def _land(self, batch: list[tuple[Response, list[LandingRow]]]) -> None:
        """Land ``batch`` in one transaction: halved while the server refuses it, spooled when it cannot be reached."""
        rows = [row for _, rows in batch for row in rows]
        try:
            result = self.loader.land(self.run.id, rows)
        except LoadError as exc:
            if exc.connection:
                self._not_landed(batch, len(rows), exc)
            elif len(batch) > 1:
                middle = len(batch) // 2
                self._land(batch[:middle])
                self._land(batch[middle:])
            else:
                self._reject(
                    batch[0][0], "LoadRefused", f"the database refused this response's rows: {exc.__cause__ or exc}"
                )
            return
        self.run.counters.rows_landed += result.landed
        self.run.counters.rows_duplicate += result.duplicates

    def _not_landed(self, batch: list[tuple[Response, list[LandingRow]]], row_count: int, exc: LoadError) -> None:
        """Keep a batch the database could not take (spool it, or name the replay folder) and record where it is."""
        if self.replay_dir is not None:
            where = f"the recordings stay in {self.replay_dir}; replay it again once the database is back"
        else:
            folder = self.spool.write([fetched for fetched, _ in batch])
            where = (
                f"the {len(batch)} responses were written to {folder}; land them with `python -m gans replay {folder}`"
                if folder
                else "the responses could not be spooled either"
            )
        keys = [fetched.key for fetched, _ in batch]
        self.error(
            keys[0] if len(keys) == 1 else None,
            "LoadError",
            f"batch of {row_count} rows not landed ({exc}); {where}",
            body=json.dumps(keys, ensure_ascii=False),
        )

    def finish(self) -> SourceResult:
        """Flush, close the run in ``extract_runs`` and return the result (never raises)."""
        try:
            self.flush()
        except Exception as exc:  # noqa: BLE001 - the run must still close
            self.error(None, type(exc).__name__, f"landing failed: {exc}")
        try:
            status = self.runlog.finish(self.run)
        except Exception as exc:
            log.error("%s: could not close run %s: %s", self.source, self.run.id, exc)
            status = "failed"
            if self.run.counters.errors == 0:
                self.run.counters.errors += 1
        c = self.run.counters
        self.result.status = status
        log.info(
            "%s: run %s %s: %d requests, %d landed, %d duplicates, %d errors",
            self.source,
            self.run.id,
            status,
            c.requests,
            c.rows_landed,
            c.rows_duplicate,
            c.errors,
        )
        return self.result


class Spool:
    """Lazily created spool folder for responses that could not be landed."""

    def __init__(self, root: Path | None, summary: Summary):
        self.root = root
        self.summary = summary
        self._recorder: Recorder | None = None

    def write(self, fetched: Sequence[Response]) -> Path | None:
        try:
            if self._recorder is None:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                base = self.root if self.root is not None else LOCAL_DIR / "spool"
                folder = base / stamp
                self._recorder = Recorder(folder, note="spooled: not landed because the database failed")
                self.summary.spool_dirs.append(folder)
            for item in fetched:
                self._recorder.record(item)
            return self._recorder.directory
        except OSError as exc:
            log.error("could not spool %d unlanded responses: %s", len(fetched), exc)
            return None


@contextmanager
def landing_session(settings: Settings) -> Iterator[tuple[pymysql.Connection, RunLog, Loader]]:
    """The loader user's connection that all runs of one call share, with its run log and loader.

    Registers the settings' secrets for redaction (:func:`extract.http.register_settings_secrets`)
    and closes the runs left running past their lease (:meth:`RunLog.close_abandoned`) first.
    Raises the driver's error when the database cannot be reached; at the end the connection is
    closed (a failure to close is logged, not raised).
    """
    register_settings_secrets(settings)
    conn = db.connect(settings, "loader")
    try:
        runlog = RunLog(conn)
        runlog.close_abandoned()
        yield conn, runlog, Loader(conn)
    finally:
        try:
            conn.close()
        except Exception:
            log.debug("closing the connection failed", exc_info=True)


def close_abandoned(settings: Settings) -> list[int]:
    """Close every run left ``running`` past its lease as ``abandoned`` (:meth:`RunLog.close_abandoned`), as
    the loader user; returns their ids. Every :func:`extract.runner.extract` and :func:`extract.runner.replay`
    does this first."""
    conn = db.connect(settings, "loader")
    try:
        return RunLog(conn).close_abandoned()
    finally:
        conn.close()
