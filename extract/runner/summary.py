"""What a run shows: a progress bar while it works, and per source a :class:`SourceResult` in a :class:`Summary`.

Both :func:`extract.runner.extract` and :func:`extract.runner.replay` return a :class:`Summary`;
the CLI prints it (:meth:`Summary.render`), the Lambda handlers return it as JSON.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extract.runlog import RunCounters

# one logger for all of the runner's modules: operators filter on "extract.runner"
log = logging.getLogger(__package__)


def _counter(name: str, doc: str) -> property:
    """A read-only attribute of :class:`SourceResult`: counter ``name`` of its run's :class:`RunCounters`."""
    return property(lambda result: getattr(result.counters, name), doc=doc)


@dataclass
class SourceResult:
    """What one source did in one call: its run id, counters and final status.

    ``status`` is ``succeeded``, ``failed``, ``skipped`` (a run with the idempotency key already
    succeeded, or an API key missing in a run of the default sources) or ``in_progress``
    (another run holds the key now: not a success); for the last two ``run_id`` is None and
    nothing was fetched. A run that left keys (``left_keys``) is still closed, with the status
    of what it did fetch.
    """

    source: str
    run_id: int | None
    counters: RunCounters = field(default_factory=RunCounters)
    """The run's own counters (the object the run log writes to ``extract_runs``): requests, rows
    landed and duplicate, errors; read through :attr:`requests`, :attr:`landed`, :attr:`duplicates`
    and :attr:`errors`. All 0 for a source not run."""
    skipped: int = 0
    """Requests the source chose not to make (:attr:`RunContext.skip`: a GBFS feed still within its ttl); not errors."""
    unreachable: int = 0
    """Requests not sent because their host had too many consecutive connection failures
    (:class:`extract.http.HostUnreachable`), per host in ``unreachable_hosts``; each also counts as an error."""
    status: str = "running"
    messages: list[str] = field(default_factory=list)
    left_keys: list[dict[str, Any]] = field(default_factory=list)
    """The request keys not fetched because the call's ``deadline`` came first (the fan-out plan re-queues them)."""
    unreachable_hosts: dict[str, int] = field(default_factory=dict)

    requests = _counter("requests", "Requests made (in a replay: recordings read).")
    landed = _counter("rows_landed", "Landing rows inserted.")
    duplicates = _counter("rows_duplicate", "Responses not inserted: the same row (key and body) had landed before.")
    errors = _counter("errors", "Failed requests and rejected responses, each an ``extract_errors`` row.")


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


class Progress:
    """A rich progress bar per source on a terminal, or plain log lines."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._progress = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bars

            self._progress = Bars(
                TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            )
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start(self, source: str, total: int | None) -> None:
        """Begin ``source``'s bar; ``total`` requests, or None while unknown (a generator of requests)."""
        if self._progress is not None:
            self._tasks[source] = self._progress.add_task(source, total=total)
        else:
            log.info("%s: %s requests", source, "?" if total is None else total)

    def advance(self, source: str, label: str) -> None:
        """One request of ``source`` done; ``label`` (its key) is logged when there is no bar."""
        if self._progress is not None and source in self._tasks:
            self._progress.advance(self._tasks[source])
        else:
            log.info("%s: %s", source, label)
