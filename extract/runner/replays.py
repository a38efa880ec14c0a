"""Replay (:func:`replay`): recorded responses landed in one ``fetched_at`` order across all sources.

Each source gets one run; a recording goes to its source's run, and a source's queued batch is landed
before a recording of another source is, so rows reach the landing tables in recorded order.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from extract.instants import format_instant
from extract.recording import ManifestEntry, read_manifest
from extract.settings import Settings
from extract.sources import REGISTRY, SOURCES

from .live import check_sources
from .source_run import SourceRun, Spool, landing_session
from .summary import Progress, Summary

# one logger for all of the runner's modules: operators filter on "extract.runner"
log = logging.getLogger(__package__)


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
    asked = check_sources(sources) if sources is not None else None
    entries = read_manifest(directory, set(asked) if asked is not None else None)  # by (fetched_at, line)
    unknown = sorted({e.source for e in entries} - set(REGISTRY))
    if unknown:
        raise ValueError(f"{directory}: unknown source(s) in the manifest: {', '.join(unknown)}")
    totals = Counter(e.source for e in entries)
    chosen = asked if asked is not None else [s for s in SOURCES if s in totals]
    summary = Summary()
    spool = Spool(None, summary)  # never written: a replay's recordings stay in their folder
    with landing_session(settings) as (_conn, runlog, loader), Progress(progress) as bar:
        jobs: dict[str, SourceRun] = {}
        for source in chosen:
            jobs[source] = SourceRun(
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
        _land_in_order(entries, jobs, bar, directory)
        for source in chosen:
            summary.results.append(jobs[source].finish())
    return summary


def _land_in_order(
    entries: Sequence[ManifestEntry], jobs: Mapping[str, SourceRun], bar: Progress, directory: Path
) -> None:
    """Hand each recording, in ``entries``' order, to its source's run; flush a run's batch when another source's
    recording comes next. A recording whose body cannot be read is a ``MissingBody`` error; whatever else
    breaks is recorded in the current run (never raised), so that every run still closes."""
    previous: SourceRun | None = None
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
