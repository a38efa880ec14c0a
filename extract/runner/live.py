"""Live extraction (:func:`extract`): the sources in registry order, each request fetched, handled and landed.

Each source builds its requests when its turn comes (:meth:`Source.requests`), so one may use what an
earlier one found in the same call: the flights of the airports just searched are fetched; when only
``aerodatabox_flights`` is asked for, the airports come from the latest ``aerodatabox_airports``
landing row of each city. A fan-out batch (``request_keys``) runs only its keys; a ``deadline`` leaves
the keys not started to the plan (:mod:`extract.fanout`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from extract.cities import load_cities, select_cities
from extract.http import HttpClient, HttpError
from extract.recording import Recorder
from extract.runlog import ClaimTaken, Run, RunLog
from extract.settings import Settings
from extract.sources import REGISTRY, SOURCES, RunContext, Source

from .clients import make_clients, resolve_base_urls
from .source_run import SourceRun, Spool, landing_session
from .summary import Progress, SourceResult, Summary

# one logger for all of the runner's modules: operators filter on "extract.runner"
log = logging.getLogger(__package__)


def check_sources(sources: Iterable[str]) -> list[str]:
    """``sources`` in registry order (:data:`extract.sources.SOURCES`), once each; ValueError naming an unknown one."""
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
        chosen_sources = check_sources(sources)
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
    spool = Spool(Path(spool_dir) if spool_dir is not None else None, summary)
    with landing_session(settings) as (conn, runlog, loader):
        state: dict[str, Any] = {}  # shared by the sources of this call (airports found -> flights)
        try:
            with Progress(progress) as bar:
                for name in chosen_sources:
                    source = REGISTRY[name]
                    run = _start_run(runlog, name, trigger, idempotency_key)
                    if isinstance(run, SourceResult):  # not run: skipped or in progress elsewhere
                        summary.results.append(run)
                        continue
                    job = SourceRun(source, runlog, loader, run, recorder=recorder, spool=spool, batch_size=batch_size)
                    ctx = RunContext(
                        settings=settings,
                        cities=chosen,
                        base_url=urls[source.api],
                        window=window,
                        options=dict(options or {}),
                        asked=chosen_sources,
                        state=state,
                        conn=conn,
                        error=job.error if wanted is None else _errors_within(wanted, job.error),
                        skip=job.skip,
                    )
                    try:
                        _run_source(source, ctx, job, clients[source.api], bar, wanted, deadline)
                    except Exception as exc:  # noqa: BLE001 - whatever broke, the run closes with the error recorded
                        log.exception("%s: run %s stopped", name, run.id)
                        job.error(None, type(exc).__name__, f"the run stopped: {exc}")
                    summary.notices.extend(_left_and_unreachable(job.result))
                    summary.results.append(job.finish())
        finally:
            for client in clients.values():
                client.close()
    return summary


def _start_run(runlog: RunLog, name: str, trigger: str, idempotency_key: str | None) -> Run | SourceResult:
    """Open ``name``'s run; or, when there is to be none, the source's result saying why (status ``skipped``:
    a run with ``idempotency_key`` already succeeded; ``in_progress``: another run holds the key now)."""
    if idempotency_key is not None and runlog.already_succeeded(name, idempotency_key):
        log.info("%s: a run with idempotency key %s already succeeded; skipped", name, idempotency_key)
        return SourceResult(name, None, status="skipped")
    try:
        return runlog.start(name, trigger, idempotency_key)
    except ClaimTaken:
        # Another delivery of the same event holds the key: it is working, or it was killed and
        # its lease has not run out yet. Not a success: the caller retries (Lambda: a retried
        # delivery after the lease finds the key done, or the abandoned run closed and free).
        log.warning("%s: idempotency key %s is held by another run; not run", name, idempotency_key)
        result = SourceResult(name, None, status="in_progress")
        result.messages.append(f"idempotency key {idempotency_key} is held by another run")
        return result


def _left_and_unreachable(result: SourceResult) -> list[str]:
    """Log the keys a deadline left; return one notice per unreachable host (for :attr:`Summary.notices`)."""
    if result.left_keys:
        log.warning("%s: deadline reached, %d requests left", result.source, len(result.left_keys))
    return [
        f"{result.source}: {count} request{'s' if count != 1 else ''} not sent: host {host} unreachable"
        " (consecutive connection failures; see extract_errors)"
        for host, count in result.unreachable_hosts.items()
    ]


def _run_source(
    source: Source,
    ctx: RunContext,
    job: SourceRun,
    client: HttpClient,
    bar: Progress,
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
