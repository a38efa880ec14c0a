"""Command line: ``python -m gans`` or ``gans-extract``.

Commands (``--help`` on each):

- ``run``: live extraction of the tracked cities (or ``--cities``), their airports and the
  flights of those airports for a window (default: the coming day, local time), for all
  sources or ``--sources``; ``--record DIR`` also writes every response to DIR in the
  manifest format (keys stripped);
- ``replay DIR``: lands every recording of ``DIR/manifest.jsonl`` in one ``fetched_at`` order
  across all sources (ties: manifest line order), with one run per source;
- ``dbt ARGS...``: dbt in-process with the project's profile and settings (e.g. ``dbt build``);
- ``pipeline [--replay DIR]``: the main job (``make run``): extract live (or replay DIR),
  then ``dbt build``, then a summary of both;
- ``retention [--sources] [--days N]``: delete the raw rows older than the retention period of
  every source declaring one (``make retention``);
- ``runs close-abandoned``: close runs left ``running`` past their lease as ``abandoned``
  (``make close-abandoned``; every run and replay does it first too).

A progress bar per source when stdout is a terminal, plain log lines (stderr) otherwise;
the summary table at the end; exit status 0 only when nothing failed (1 when a source had
errors, 1 with a message for bad input such as a missing API key, before any request).

"""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from pathlib import Path

import click

from extract.instants import parse_instant
from extract.sources import REGISTRY, SOURCES, apis

log = logging.getLogger("gans.cli")


def _split(values: tuple[str, ...]) -> list[str] | None:
    """``--x a --x b,c`` -> ``["a", "b", "c"]``; None when not given."""
    items = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return items or None


def _instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_instant(value, naive_is_utc=True)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time (e.g. 2024-05-08T00:00+02:00)", param_hint=name
        ) from None


def _setup_logging(verbose: int, tty: bool) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if (verbose or not tty) else logging.WARNING
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:
        logging.getLogger("urllib3").setLevel(logging.WARNING)
        logging.getLogger("mysql.connector").setLevel(logging.WARNING)


def _finish(summary) -> None:
    from rich.console import Console

    # off a terminal rich assumes 80 columns; the table needs a little more
    summary.render(Console() if sys.stdout.isatty() else Console(width=120))
    sys.exit(summary.exit_code)


def _settings():
    from extract.settings import Settings

    return Settings()


def _known_errors():
    import pymysql

    from extract.cities import CitiesError
    from extract.recording import ManifestError
    from extract.settings import MissingSettingError

    return (MissingSettingError, CitiesError, ManifestError, FileNotFoundError, ValueError, pymysql.err.MySQLError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log lines (-v: info, -vv: debug with HTTP details).")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Gans data platform: extract the registered sources into the landing tables (help text: _CLI_HELP)."""
    ctx.ensure_object(dict)
    ctx.obj["tty"] = sys.stdout.isatty()
    _setup_logging(verbose, ctx.obj["tty"])


def _keyless() -> list[str]:
    """The sources that need no setting (no API key), from their declarations."""
    return [s.name for s in REGISTRY.values() if not s.required_settings]


# the group's help names the sources from the registry (extract.sources), not a hand-written list
cli.help = (
    f"Gans data platform: extract {', '.join(SOURCES)} into the landing tables.\n\n"
    "Settings come from the environment and .env (GANS_*, the API keys, ...); "
    f"{', '.join(_keyless())} need no key."
)

SOURCES_HELP = (
    f"Sources to run (repeat or comma-separate): {', '.join(SOURCES)}. Default: all whose API keys are set"
    " (the others are skipped with a notice); a source named here without its key is an error."
)


@cli.command()
@click.option("--sources", "sources", multiple=True, metavar="NAME[,NAME]", help=SOURCES_HELP)
@click.option(
    "--cities", "cities", multiple=True, metavar="CITY[,CITY]", help="Only these tracked cities. Default: all."
)
@click.option(
    "--from",
    "start",
    metavar="DATETIME",
    help="Start of the flights window, ISO 8601 (naive = UTC). Default: the coming day 00:00, local time.",
)
@click.option("--to", "end", metavar="DATETIME", help="End of the flights window; split into pieces of at most 12 h.")
@click.option(
    "--record",
    "record_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write every response to DIR in the manifest format (API keys stripped).",
)
@click.option(
    "--direction",
    type=click.Choice(["Arrival", "Departure", "Both"]),
    default="Arrival",
    show_default=True,
    help="Flights direction.",
)
@click.option("--idempotency-key", help="Skip sources whose run with this key already succeeded.")
@click.option(
    "--spool-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where responses that could not be landed are kept (default .local/spool/<timestamp>/).",
)
@click.option(
    "--base-url",
    "base_urls",
    multiple=True,
    hidden=True,
    metavar="API=URL",
    help=f"Override an API root ({', '.join(apis())}), e.g. for a local fake in tests.",
)
@click.pass_context
def run(ctx, sources, cities, start, end, record_dir, direction, idempotency_key, spool_dir, base_urls) -> None:
    """Fetch the tracked cities live and land the responses (help text: below, from the registry)."""
    from extract.runner import extract

    window_start, window_end = _instant(start, "--from"), _instant(end, "--to")
    if (window_start is None) != (window_end is None):
        raise click.UsageError("--from and --to go together")
    window = (window_start, window_end) if window_start is not None else None
    roots = {}
    for item in base_urls:
        api, sep, url = item.partition("=")
        if not sep or api not in apis():
            raise click.BadParameter(f"{item!r}: expected API=URL", param_hint="--base-url")
        roots[api] = url
    try:
        summary = extract(
            _settings(),
            sources=_split(sources),
            cities=_split(cities),
            window=window,
            record_dir=record_dir,
            trigger="cli",
            idempotency_key=idempotency_key,
            progress=ctx.obj["tty"],
            options={"direction": direction},
            spool_dir=spool_dir,
            base_urls=roots or None,
        )
    except _known_errors() as exc:
        raise click.ClickException(str(exc)) from None
    _finish(summary)


run.help = (
    f"Fetch the tracked cities live and land the responses.\n\nOrder: {', '.join(SOURCES)}. "
    "Without --sources, the sources whose API key is missing are skipped with one notice "
    f"({', '.join(_keyless())} need none). A source using what an earlier one landed (flights: the airports) "
    "reads the latest landed rows when run alone. Exit status 0 only when nothing failed."
)


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--sources", "sources", multiple=True, metavar="NAME[,NAME]", help=SOURCES_HELP)
@click.pass_context
def replay(ctx, directory: Path, sources) -> None:
    """Land every recording of DIRECTORY/manifest.jsonl, in fetched_at order.

    One fetched_at order across all sources (ties: manifest line order); one run per
    source in extract_runs. Uses the recorded fetched_at and status and the same parsing
    and loading as live runs; replaying the same directory twice lands nothing new.
    Exit status 0 only when nothing failed.
    """
    from extract.runner import replay as do_replay

    try:
        summary = do_replay(_settings(), directory, sources=_split(sources), progress=ctx.obj["tty"])
    except _known_errors() as exc:
        raise click.ClickException(str(exc)) from None
    _finish(summary)


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def dbt(dbt_args) -> None:
    """Run dbt in-process on dbt_project/ with the project's profile, e.g. `dbt build -s cities`.

    The GANS_* settings are exported for profiles.example.yml; prints rows per mart and test
    outcomes; exit status 1 when dbt failed.
    """
    from transform.dbt_runner import main as dbt_main

    sys.exit(dbt_main(list(dbt_args) or ["build"]))


@cli.command()
@click.option(
    "--replay",
    "recordings",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Land the recordings of this folder instead of extracting live (no API keys needed).",
)
@click.option("--sources", "sources", multiple=True, metavar="NAME[,NAME]", help=SOURCES_HELP)
@click.pass_context
def pipeline(ctx, recordings: Path | None, sources) -> None:
    """The main job: extract (or --replay DIR), load, `dbt build`, and a summary.

    dbt runs even when some keys failed to extract (it builds on what landed); the exit
    status is 0 only when extraction had no error and dbt succeeded. Live, without --sources,
    sources whose API key is missing are skipped with one notice; named in --sources, a source
    without its key stops before any request, naming the setting.
    """
    from rich.console import Console

    from extract.runner import extract, replay
    from transform.dbt_runner import run_dbt, summarize

    settings = _settings()
    try:
        if recordings is not None:
            summary = replay(settings, recordings, sources=_split(sources), progress=ctx.obj["tty"])
        else:
            summary = extract(settings, sources=_split(sources), trigger="cli", progress=ctx.obj["tty"])
    except _known_errors() as exc:
        raise click.ClickException(str(exc)) from None
    console = Console() if sys.stdout.isatty() else Console(width=120)
    summary.render(console)
    result = run_dbt(["--quiet", "build"], settings)  # dbt prints errors only; the summary follows
    built = summarize(result, settings)
    click.echo(built.format())
    sys.exit(0 if summary.ok and result.success else 1)


@cli.command()
@click.option(
    "--sources",
    "sources",
    multiple=True,
    metavar="NAME[,NAME]",
    help="Only these sources (default: every source declaring a retention period).",
)
@click.option("--days", type=click.IntRange(min=1), default=None, help="Keep this many days (default: each source's).")
def retention(sources, days: int | None) -> None:
    """Delete the raw landing rows older than their source's retention period (extract/retention.py).

    Applies to every source that declares one (its setting holds the days); the others' rows are
    kept for ever. Runs as the loader user (DELETE on those landing tables only). The dbt models
    built from them are incremental and keep their rows; only a `dbt build --full-refresh` of them
    would lose the history no longer landed. Prints one line per source.
    """
    from extract.retention import purge_all

    try:
        results = purge_all(_settings(), sources=_split(sources), days=days)
    except _known_errors() as exc:
        raise click.ClickException(str(exc)) from None
    for result in results:
        click.echo(
            f"{result.source} ({result.table}, {result.days} days): {result.deleted} rows fetched before"
            f" {result.cutoff.isoformat()} deleted"
        )


@cli.command()
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("dbt_project/target/report"), show_default=True
)
def report(out_dir: Path) -> None:
    """Write the demand report: one static HTML page per city (plots from the demand marts) into --out."""
    from gans.report import write_report

    try:
        pages = write_report(out_dir, _settings())
    except (RuntimeError, *_known_errors()) as exc:
        raise click.ClickException(str(exc)) from None
    for page in pages:
        click.echo(str(page))


@cli.group("gbfs-systems")
def gbfs_systems() -> None:
    """The GBFS systems followed (dbt_project/seeds/gbfs_systems.csv)."""


@gbfs_systems.command("refresh")
@click.option("--url", default=None, help="Catalogue to read (default GANS_GBFS_CATALOGUE_URL): URL or path.")
@click.option(
    "--seed",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Seed to write (default GANS_GBFS_SYSTEMS_FILE).",
)
def gbfs_systems_refresh(url: str | None, seed: Path | None) -> None:
    """Rewrite the GBFS systems seed from MobilityData's catalogue (systems.csv) for the tracked cities.

    Systems match a tracked city by the catalogue's location name and country (see
    extract/gbfs_catalogue.py); systems needing authentication are written disabled; the seed's
    `manual` rows are kept. Bad catalogue rows are printed and left out (exit 0); an unreadable
    catalogue exits 1 and leaves the seed as it was. Review the diff, then commit the seed.
    """
    from extract.gbfs_catalogue import CatalogueError, refresh

    settings = _settings()
    target = seed or settings.gbfs_systems_file
    try:
        result = refresh(url or settings.gbfs_catalogue_url, settings.cities_file, target, settings.http_timeout_s)
    except (CatalogueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for problem in result.problems:
        click.echo(f"left out: {problem}", err=True)
    enabled = sum(1 for r in result.rows if r["is_enabled"] == "true")
    cities = ", ".join(f"{c} {n}" for c, n in sorted(result.cities().items()))
    click.echo(
        f"{target}: {len(result.rows)} systems ({enabled} enabled) of {result.catalogue_rows} in the catalogue;"
        f" {len(result.problems)} left out. Per city: {cities}"
    )


@cli.group()
def runs() -> None:
    """The run log (extract_runs)."""


@runs.command("close-abandoned")
def close_abandoned() -> None:
    """Close runs left `running` past their lease (a killed process) as `abandoned`.

    Their counters are recomputed from the landing tables and extract_errors, and their
    idempotency claims released, so a retried delivery runs. Every run and replay does this
    first too. Prints the ids closed.
    """
    from extract.runner import close_abandoned as do_close

    try:
        closed = do_close(_settings())
    except _known_errors() as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"closed {len(closed)} abandoned run(s)" + (f": {', '.join(map(str, closed))}" if closed else ""))


def main() -> None:
    """Entry point of ``gans-extract`` and ``python -m gans``."""
    cli(obj={})
