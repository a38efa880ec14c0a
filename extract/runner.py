"""Extraction runs: live (:func:`extract`) and from recordings (:func:`replay`), with one code path for landing.

Both produce, per source, one ``extract_runs`` row (trigger ``cli``, ``replay``, ``lambda``, ...)
and a :class:`Summary`. Each response goes through the same steps:

1. counted as a request, and written to the ``--record`` folder when one is given;
2. checked against its source's declaration (:mod:`extract.sources`: a status outside
   ``ok_statuses``, a request key without the source's ``key_fields``) and parsed by the
   source: a bad status, key, page or JSON is written to ``extract_errors`` with the body
   (API keys redacted), and the run carries on with the other keys;
3. landed in batches through :class:`extract.loader.Loader` (idempotent: landing the same
   response twice stores it once). When a batch cannot be landed (database gone), the
   error is recorded if the database still answers, and the batch's responses are
   written to a spool folder in the manifest format (default ``.local/spool/<UTC timestamp>/``)
   so that ``replay`` can land them later; the error message names the folder.

A request that got no response (connection failure after the client's retries) is an
``extract_errors`` row too. After a few consecutive connection failures to one host the HTTP
client stops sending to it (:class:`extract.http.HostCircuitBreaker`): the host's remaining
keys are error rows ``HostUnreachable`` at once, counted apart in the summary
(:attr:`SourceResult.unreachable`, one notice per host), so a dead host costs seconds.

Replay order: the recordings of all sources in one ``fetched_at`` order (ties: manifest
line order), each landed under its source's run (one run per source).

Live order: the registry's (:data:`extract.sources.SOURCES`). Each source builds its
requests when its turn comes (:meth:`Source.requests`), so one may use what an earlier one
found in the same call: the flights of the airports just searched are fetched; when only
``aerodatabox_flights`` is asked for, the airports come from the latest
``aerodatabox_airports`` landing row of each city.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from extract import db
from extract.cities import load_cities, select_cities
from extract.http import (
    HostUnreachable,
    HttpClient,
    HttpError,
    redact,
    redact_body,
    register_settings_secrets,
    scrub_secrets,
)
from extract.instants import format_instant
from extract.loader import LandingRow, Loader, LoadError
from extract.recording import Recorder, read_manifest
from extract.response import RequestSpec, Response
from extract.runlog import ClaimTaken, Run, RunLog
from extract.settings import LOCAL_DIR, Settings
from extract.sources import REGISTRY, SOURCES, ParseError, RunContext, Source

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------
# Summary


@dataclass
class SourceResult:
    """What one source did in one call: its run id, counters and final status.

    ``status`` is ``succeeded``, ``failed``, ``skipped`` (a run with the idempotency key already
    succeeded, or an API key missing in a run of the default sources) or ``in_progress``
    (another run holds the key now: not a success); for the last two ``run_id`` is None and
    nothing was fetched. ``left_keys``: the request keys not fetched because the call's
    ``deadline`` came first (the fan-out plan re-queues them); a run that left keys is still
    closed, with the status of what it did fetch. ``skipped`` (the counter) counts the
    requests the source chose not to make (:attr:`RunContext.skip`: a GBFS feed still within
    its ttl); not errors. ``unreachable``: requests not sent because their host had too many
    consecutive connection failures (:class:`extract.http.HostUnreachable`), per host in
    ``unreachable_hosts``; each is also an error (an ``extract_errors`` row), not a request.
    """

    source: str
    run_id: int | None
    requests: int = 0
    landed: int = 0
    duplicates: int = 0
    errors: int = 0
    skipped: int = 0
    unreachable: int = 0
    status: str = "running"
    messages: list[str] = field(default_factory=list)
    left_keys: list[dict[str, Any]] = field(default_factory=list)
    unreachable_hosts: dict[str, int] = field(default_factory=dict)


@dataclass
class Summary:
    """Per-source results of an :func:`extract` or :func:`replay` call, and any spool folders written."""

    results: list[SourceResult] = field(default_factory=list)
    spool_dirs: list[Path] = field(default_factory=list)
    #: one line each, shown under the table (e.g. the sources skipped for a missing API key)
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no source had an error."""
        return all(r.errors == 0 and r.status not in ("failed", "in_progress") for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 when :attr:`ok`, else 1."""
        return 0 if self.ok else 1

    def result(self, source: str) -> SourceResult:
        """The result of ``source``; KeyError when it did not take part."""
        for r in self.results:
            if r.source == source:
                return r
        raise KeyError(source)

    def table(self):
        """A :class:`rich.table.Table` with one line per source and a total line."""
        from rich.table import Table

        table = Table(title="Extraction summary")
        for name, justify in [
            ("source", "left"),
            ("run", "right"),
            ("requests", "right"),
            ("landed", "right"),
            ("duplicates", "right"),
            ("errors", "right"),
            ("status", "left"),
        ]:
            table.add_column(name, justify=justify)
        for r in self.results:
            style = {"failed": "red", "in_progress": "red", "skipped": "yellow"}.get(r.status, "green")
            status = f"{r.status}, {r.skipped} fresh (not fetched)" if r.skipped else r.status
            if r.unreachable:
                status += f", {r.unreachable} not sent (host down)"
            table.add_row(
                r.source,
                "-" if r.run_id is None else str(r.run_id),
                str(r.requests),
                str(r.landed),
                str(r.duplicates),
                str(r.errors),
                f"[{style}]{status}[/{style}]",
            )
        total = [sum(getattr(r, f) for r in self.results) for f in ("requests", "landed", "duplicates", "errors")]
        table.add_section()
        table.add_row("total", "", *map(str, total), "ok" if self.ok else "[red]failed[/red]")
        return table

    def render(self, console=None) -> None:
        """Print :meth:`table` (and the spool folders, if any) on ``console`` (a rich Console; stdout by default)."""
        from rich.console import Console

        console = console or Console()
        console.print(self.table())
        for notice in self.notices:
            console.print(notice, style="yellow", markup=False, highlight=False)
        for folder in self.spool_dirs:
            console.print(f"[yellow]unlanded responses kept in {folder}: land them with `replay {folder}`[/yellow]")


# --------------------------------------------------------------------------------------
# Progress


class _Progress:
    """A rich progress bar per source on a terminal, or plain log lines."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            )
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, source: str, total: int | None) -> None:
        if self._progress is not None:
            self._tasks[source] = self._progress.add_task(source, total=total)
        else:
            log.info("%s: %s requests", source, "?" if total is None else total)

    def total(self, source: str, total: int) -> None:
        if self._progress is not None and source in self._tasks:
            self._progress.update(self._tasks[source], total=total)

    def advance(self, source: str, label: str) -> None:
        if self._progress is not None and source in self._tasks:
            self._progress.advance(self._tasks[source])
        else:
            log.info("%s: %s", source, label)


# --------------------------------------------------------------------------------------
# One source's run: parse, batch, land, spool


class _SourceRun:
    """The run of one source: counts requests, records errors, lands rows in batches, spools on failure."""

    def __init__(
        self,
        source: Source,
        runlog: RunLog,
        loader: Loader,
        run: Run,
        *,
        recorder: Recorder | None,
        spool: _Spool,
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
        self.result = SourceResult(source.name, run.id)
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
        body, found = scrub_secrets(fetched.body)
        if found:
            self.run.counters.secrets_redacted += found
            log.warning("%s %s: %d secret value(s) in the body replaced by ***", self.source, fetched.key, found)
            fetched = fetched.with_body(body)
        if self.recorder is not None:
            try:
                self.recorder.record(fetched)
            except OSError as exc:
                self.error(fetched.key, "RecordError", f"could not write the recording: {exc}")
        if fetched.status not in self.source.ok_statuses:
            self.error(
                fetched.key,
                "HttpStatus",
                f"HTTP {fetched.status} from {fetched.url}",
                http_status=fetched.status,
                body=fetched.body,
            )
            return []
        try:
            self.source.check_key(fetched.key)
            rows = self.source.parse(fetched)
            sizes = [row.statement_bytes() for row in rows]
        except ParseError as exc:
            self.error(fetched.key, "ParseError", str(exc), http_status=fetched.status, body=fetched.body)
            return []
        except Exception as exc:  # noqa: BLE001 - a body the parser or serialiser chokes on is data, not a crash
            self.error(
                fetched.key,
                "ParseError",
                f"unusable body: {type(exc).__name__}: {exc}",
                http_status=fetched.status,
                body=fetched.body,
            )
            return []
        limit = self._max_row_bytes()
        if limit is not None and sizes and max(sizes) > limit:
            self.error(
                fetched.key,
                "TooLarge",
                f"{max(sizes)} bytes to send for one row; the server accepts at most {limit} (max_allowed_packet)",
                http_status=fetched.status,
                body=fetched.body,
            )
            return []
        self._batch.append((fetched, rows))
        if len(self._batch) >= self.batch_size:
            self.flush()
        return rows

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
        rows = [row for _, rows in batch for row in rows]
        try:
            result = self.loader.land(self.run.id, rows)
        except LoadError as exc:
            if not exc.connection:
                if len(batch) > 1:
                    middle = len(batch) // 2
                    self._land(batch[:middle])
                    self._land(batch[middle:])
                    return
                fetched = batch[0][0]
                self.error(
                    fetched.key,
                    "LoadRefused",
                    f"the database refused this response's rows: {exc.__cause__ or exc}",
                    http_status=fetched.status,
                    body=fetched.body,
                )
                return
            if self.replay_dir is not None:
                where = f"the recordings stay in {self.replay_dir}; replay it again once the database is back"
            else:
                folder = self.spool.write([fetched for fetched, _ in batch])
                where = (
                    f"the {len(batch)} responses were written to {folder}; "
                    f"land them with `python -m gans replay {folder}`"
                    if folder
                    else "the responses could not be spooled either"
                )
            keys = [fetched.key for fetched, _ in batch]
            self.error(
                keys[0] if len(keys) == 1 else None,
                "LoadError",
                f"batch of {len(rows)} rows not landed ({exc}); {where}",
                body=json.dumps(keys, ensure_ascii=False),
            )
            return
        self.run.counters.rows_landed += result.landed
        self.run.counters.rows_duplicate += result.duplicates

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
        self.result.requests, self.result.landed = c.requests, c.rows_landed
        self.result.duplicates, self.result.errors = c.rows_duplicate, c.errors
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


class _Spool:
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


# --------------------------------------------------------------------------------------
# Live extraction


def _check_sources(sources: Iterable[str]) -> list[str]:
    asked = list(dict.fromkeys(sources))
    unknown = [s for s in asked if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {', '.join(unknown)}; expected some of {', '.join(SOURCES)}")
    return [s for s in SOURCES if s in asked]


def missing_settings_notice(missing: Mapping[str, Sequence[str]]) -> str:
    """One line naming the skipped sources, every missing setting and where to get it.

    ``missing``: source name -> environment variable names of its empty required settings.
    """
    by_setting: dict[str, list[str]] = {}
    for name, aliases in missing.items():
        for alias in aliases:
            by_setting.setdefault(alias, []).append(name)
    parts = []
    for alias, names in by_setting.items():
        where = Settings.where_to_get(alias)
        parts.append(f"{alias} (for {', '.join(names)}{'; get it at ' + where if where else ''})")
    return (
        f"skipped {', '.join(missing)}: set {'; '.join(parts)} in the environment or in .env to run "
        f"{'them' if len(missing) > 1 else 'it'}"
    )


def resolve_base_urls(settings: Settings, base_urls: Mapping[str, str] | None = None) -> dict[str, str]:
    """API root per API name (:attr:`Source.api`: ``wikipedia``, ``openweather``, ``aerodatabox``).

    Each source's :meth:`Source.base_url` from ``settings`` (``*_BASE_URL``), overridden by ``base_urls``
    (tests, ``--base-url``, ``GANS_API_BASE_URLS``). Raises :class:`ValueError` for an unknown API name.
    """
    urls = {source.api: source.base_url(settings) for source in REGISTRY.values()}
    unknown = set(base_urls or {}) - set(urls)
    if unknown:
        raise ValueError(f"unknown API(s) {', '.join(sorted(unknown))}; expected some of {', '.join(urls)}")
    return {**urls, **(base_urls or {})}


def make_clients(
    settings: Settings,
    sources: Sequence[str],
    *,
    base_urls: Mapping[str, str] | None = None,
    session_factory: Callable[[], requests.Session] | None = None,
    http_options: Mapping[str, Any] | None = None,
    rate_share: float = 1.0,
) -> dict[str, HttpClient]:
    """One :class:`HttpClient` per API needed by ``sources``, keyed by API name (one rate budget each).

    Keys, headers and rates come from each source's :meth:`Source.client_options`; ``base_urls``
    overrides the API roots; ``http_options`` are extra :class:`HttpClient` arguments that win over
    the sources' (tests: ``sleep``, ``backoff_factor``, ``rate_per_minute``). ``rate_share`` (0 < share
    <= 1) scales every API's rate: a fan-out worker among ``n`` concurrent ones gets ``1/n`` of the
    API's limit, so the workers together never exceed it. Raises :class:`ValueError` for a share
    outside (0, 1].
    """
    if not 0 < rate_share <= 1:
        raise ValueError(f"rate_share must be in (0, 1], got {rate_share!r}")
    urls = resolve_base_urls(settings, base_urls)
    common: dict[str, Any] = {
        "timeout": settings.http_timeout_s,
        "connect_timeout": settings.http_connect_timeout_s,
        "max_retries": settings.http_max_retries,
        "host_failure_limit": settings.http_host_failures,
    }
    common.update(http_options or {})
    clients: dict[str, HttpClient] = {}
    for name in sources:
        source = REGISTRY[name]
        if source.api in clients:
            continue
        session = session_factory() if session_factory is not None else None
        options = {**source.client_options(settings), **common}
        if options.get("rate_per_minute", 0) > 0:  # 0 disables the limit: no share of nothing
            options["rate_per_minute"] = options["rate_per_minute"] * rate_share
        clients[source.api] = HttpClient(source.api, base_url=urls[source.api], session=session, **options)
    return clients


def extract(
    settings: Settings,
    *,
    sources: Iterable[str] | None = None,
    cities: Iterable[str] | None = None,
    window: tuple[datetime, datetime] | None = None,
    record_dir: str | Path | None = None,
    trigger: str = "cli",
    idempotency_key: str | None = None,
    progress: bool = False,
    session_factory: Callable[[], requests.Session] | None = None,
    base_urls: Mapping[str, str] | None = None,
    options: Mapping[str, Any] | None = None,
    http_options: Mapping[str, Any] | None = None,
    spool_dir: str | Path | None = None,
    batch_size: int = 10,
    request_keys: Iterable[Mapping[str, Any]] | None = None,
    rate_share: float = 1.0,
    deadline: float | None = None,
) -> Summary:
    """Fetch the tracked cities (or those named in ``cities``) live and land the responses.

    - ``sources``: any of :data:`extract.sources.SOURCES` (run in that order); asked for by name, a
      source whose required settings (API keys) are empty is an error before any request. None (the
      default) runs every source whose settings are set and skips the others with one notice naming
      each missing setting and where to get it (:func:`missing_settings_notice`, also in
      :attr:`Summary.notices`; such sources appear with status ``skipped`` and no run);
    - ``window``: aware ``(start, end)`` for flights, split per airport into local windows
      of at most 12 h; default: the coming day in each airport's (else city's) time zone;
    - ``record_dir``: also write every response there in the manifest format (keys stripped);
    - ``idempotency_key``: a source whose run with this key already succeeded is skipped;
    - ``base_urls``: ``{api name: root URL}`` overrides (see :func:`resolve_base_urls`);
    - ``options``: per-source options, e.g. ``{"direction": "Both"}`` for the flights (FIDS direction:
      ``Arrival`` (default), ``Departure`` or ``Both``);
    - ``spool_dir``: where unlanded batches go (default ``.local/spool``);
    - ``request_keys``: run only the requests whose key is one of these (a fan-out batch, see
      :mod:`extract.fanout`); the others are not fetched, and errors the sources report about
      keys outside the batch (a city without airports) are left to the plan;
    - ``rate_share``: this call's share of each API's rate (see :func:`make_clients`);
    - ``deadline``: a :func:`time.monotonic` instant; no request is started after it. The
      requests not started are reported in :attr:`SourceResult.left_keys`, the run is closed.

    Raises :class:`extract.settings.MissingSettingError` (naming the env var) before any
    request when an API key of a source asked for by name is empty, :class:`extract.cities.CitiesError` for a bad
    cities file or unknown city, and the driver's error when the database cannot be reached
    at the start. Everything after that is recorded per key and reported in the :class:`Summary`.
    """
    if sources is None:
        missing = {name: settings.missing(*REGISTRY[name].required_settings) for name in SOURCES}
        missing = {name: aliases for name, aliases in missing.items() if aliases}
        chosen_sources = [name for name in SOURCES if name not in missing]
    else:
        missing = {}
        chosen_sources = _check_sources(sources)
    for source in chosen_sources:
        settings.require(*REGISTRY[source].required_settings)
        REGISTRY[source].check_options(options or {})
    if window is not None and (window[0].tzinfo is None or window[1].tzinfo is None or window[0] >= window[1]):
        raise ValueError("window must be two timezone-aware datetimes, start before end")
    chosen = select_cities(load_cities(settings.cities_file), cities)
    wanted = None if request_keys is None else {_key_id(k) for k in request_keys}
    urls = resolve_base_urls(settings, base_urls)
    clients = make_clients(
        settings,
        chosen_sources,
        base_urls=urls,
        session_factory=session_factory,
        http_options=http_options,
        rate_share=rate_share,
    )
    recorder = Recorder(record_dir) if record_dir is not None else None
    summary = Summary()
    if missing:
        notice = missing_settings_notice(missing)
        log.warning("%s", notice)
        summary.notices.append(notice)
        summary.results.extend(
            SourceResult(name, None, status="skipped", messages=[f"missing {', '.join(aliases)}"])
            for name, aliases in missing.items()
        )
    spool = _Spool(Path(spool_dir) if spool_dir is not None else None, summary)
    register_settings_secrets(settings)
    conn = db.connect(settings, "loader")
    runlog, loader = RunLog(conn), Loader(conn)
    runlog.close_abandoned()
    state: dict[str, Any] = {}  # shared by the sources of this call (airports found -> flights)
    try:
        with _Progress(progress) as bar:
            for name in chosen_sources:
                source = REGISTRY[name]
                if idempotency_key is not None and runlog.already_succeeded(name, idempotency_key):
                    log.info("%s: a run with idempotency key %s already succeeded; skipped", name, idempotency_key)
                    summary.results.append(SourceResult(name, None, status="skipped"))
                    continue
                try:
                    run = runlog.start(name, trigger, idempotency_key)
                except ClaimTaken:
                    # Another delivery of the same event holds the key: it is working, or it was killed and
                    # its lease has not run out yet. Not a success: the caller retries (Lambda: a retried
                    # delivery after the lease finds the key done, or the abandoned run closed and free).
                    log.warning("%s: idempotency key %s is held by another run; not run", name, idempotency_key)
                    result = SourceResult(name, None, status="in_progress")
                    result.messages.append(f"idempotency key {idempotency_key} is held by another run")
                    summary.results.append(result)
                    continue
                job = _SourceRun(source, runlog, loader, run, recorder=recorder, spool=spool, batch_size=batch_size)
                report = job.error if wanted is None else _errors_within(wanted, job.error)
                ctx = RunContext(
                    settings=settings,
                    cities=chosen,
                    base_url=urls[source.api],
                    window=window,
                    options=dict(options or {}),
                    asked=chosen_sources,
                    state=state,
                    conn=conn,
                    error=report,
                    skip=job.skip,
                )
                try:
                    _run_source(source, ctx, job, clients[source.api], bar, wanted, deadline)
                except Exception as exc:  # noqa: BLE001 - whatever broke, the run closes with the error recorded
                    log.exception("%s: run %s stopped", name, run.id)
                    job.error(None, type(exc).__name__, f"the run stopped: {exc}")
                if job.result.left_keys:
                    log.warning("%s: deadline reached, %d requests left", name, len(job.result.left_keys))
                for host, count in job.result.unreachable_hosts.items():
                    summary.notices.append(
                        f"{name}: {count} request{'s' if count != 1 else ''} not sent: host {host} unreachable"
                        " (consecutive connection failures; see extract_errors)"
                    )
                summary.results.append(job.finish())
    finally:
        for client in clients.values():
            client.close()
        try:
            conn.close()
        except Exception:
            log.debug("closing the connection failed", exc_info=True)
    return summary


def _run_source(
    source: Source,
    ctx: RunContext,
    job: _SourceRun,
    client: HttpClient,
    bar: _Progress,
    wanted: set[str] | None = None,
    deadline: float | None = None,
) -> None:
    """Fetch and handle each of ``source``'s requests for ``ctx``, one after the other.

    Only those whose key is in ``wanted`` (key identities, :func:`_key_id`) when given; none started after
    ``deadline`` (``time.monotonic()``): their keys go to ``job.result.left_keys``.
    """
    # lazily: a source may build later requests from earlier responses (landed() updates ctx.state)
    specs = source.requests(ctx)
    if wanted is not None:
        specs = [spec for spec in specs if _key_id(spec.key) in wanted]
    bar.start(source.name, len(specs) if isinstance(specs, Sized) else None)
    for spec in specs:
        if deadline is not None and time.monotonic() >= deadline:
            job.result.left_keys.append(dict(spec.key))
            continue
        try:
            fetched = client.fetch(spec)
        except HttpError as exc:
            job.fetch_failed(spec, exc)
        else:
            rows = job.handle(fetched)
            if rows:
                source.landed(spec, rows, ctx)
        bar.advance(source.name, json.dumps(spec.key, ensure_ascii=False))


def close_abandoned(settings: Settings) -> list[int]:
    """Close every run left ``running`` past its lease as ``abandoned`` (:meth:`RunLog.close_abandoned`), as
    the loader user; returns their ids. Every :func:`extract` and :func:`replay` does this first."""
    conn = db.connect(settings, "loader")
    try:
        return RunLog(conn).close_abandoned()
    finally:
        conn.close()


def _key_id(key: Mapping[str, Any]) -> str:
    """A request key's identity: its canonical JSON (sorted fields), as the landing tables hash it."""
    return json.dumps(dict(key), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _errors_within(wanted: set[str], record: Callable[..., None]) -> Callable[..., None]:
    """``record`` for errors about keys of the batch (or about no key); others are the plan's to report."""

    def error(key: dict | None, error_type: str, message: str) -> None:
        if key is None or _key_id(key) in wanted:
            record(key, error_type, message)
        else:
            log.debug("outside the batch, not recorded: %s %s: %s", key, error_type, message)

    return error


# --------------------------------------------------------------------------------------
# Replay


def replay(
    settings: Settings,
    recordings_dir: str | Path,
    *,
    sources: Iterable[str] | None = None,
    trigger: str = "replay",
    progress: bool = False,
    batch_size: int = 10,
) -> Summary:
    """Land every recording of ``recordings_dir/manifest.jsonl`` with its recorded ``fetched_at`` and status.

    Each source asked for (or found in the manifest) gets one ``extract_runs`` row, opened
    up front in :data:`SOURCES` order. The recordings are then landed in one global
    ``fetched_at`` order across all sources (ties: manifest line order), through the same
    parsers and loader as live runs: each goes to its source's run, and a source's queued
    batch is landed before a recording of another source is, so rows reach the landing
    tables in that order too. Replaying twice lands nothing new (all duplicates).
    ``sources`` limits the replay; a source asked for explicitly gets a run even with no
    recordings. Raises :class:`FileNotFoundError` without a manifest,
    :class:`extract.recording.ManifestError` on a malformed line and :class:`ValueError`
    for an unknown source in the manifest — all before anything is landed.
    """
    directory = Path(recordings_dir)
    asked = _check_sources(sources) if sources is not None else None
    entries = read_manifest(directory, set(asked) if asked is not None else None)  # by (fetched_at, line)
    unknown = sorted({e.source for e in entries} - set(REGISTRY))
    if unknown:
        raise ValueError(f"{directory}: unknown source(s) in the manifest: {', '.join(unknown)}")
    totals = Counter(e.source for e in entries)
    chosen = asked if asked is not None else [s for s in SOURCES if s in totals]
    summary = Summary()
    register_settings_secrets(settings)
    conn = db.connect(settings, "loader")
    runlog, loader = RunLog(conn), Loader(conn)
    runlog.close_abandoned()
    spool = _Spool(None, summary)
    try:
        with _Progress(progress) as bar:
            jobs: dict[str, _SourceRun] = {}
            for source in chosen:
                jobs[source] = _SourceRun(
                    REGISTRY[source],
                    runlog,
                    loader,
                    runlog.start(source, trigger),
                    recorder=None,
                    spool=spool,
                    batch_size=batch_size,
                    replay_dir=directory,
                )
                bar.start(source, totals[source])
            previous: _SourceRun | None = None
            try:
                for entry in entries:
                    job = jobs[entry.source]
                    if previous is not None and previous is not job:
                        previous.flush()  # land in global fetched_at order, across tables too
                    previous = job
                    try:
                        fetched = entry.read()
                    except OSError as exc:
                        job.run.counters.requests += 1
                        job.error(entry.key, "MissingBody", f"line {entry.line}: cannot read {entry.body}: {exc}")
                    else:
                        job.handle(fetched)
                    bar.advance(entry.source, f"{entry.body} ({format_instant(entry.fetched_at)})")
            except Exception as exc:  # noqa: BLE001 - whatever broke, every run closes with the error recorded
                log.exception("replay of %s stopped", directory)
                (previous or next(iter(jobs.values()))).error(None, type(exc).__name__, f"the replay stopped: {exc}")
            for source in chosen:
                summary.results.append(jobs[source].finish())
    finally:
        try:
            conn.close()
        except Exception:
            log.debug("closing the connection failed", exc_info=True)
    return summary
