"""Run the dbt project (``dbt_project/``, project ``gans``) in-process, and summarise a build.

:func:`run_dbt` invokes dbt-core's :class:`dbt.cli.main.dbtRunner` in this Python
process (no subprocess; about 1.3 s per later invocation, 4-5 s for the first,
which parses the project). Before each call it:

- exports the connection values of :class:`extract.settings.Settings` as the
  ``GANS_*`` environment variables that ``profiles.example.yml`` reads with
  ``env_var()`` (host, port, socket, CA bundle, database names, the dbt user and
  password), and picks the profile target: ``GANS_DBT_TARGET`` when set, else
  ``rds`` when a CA bundle is configured, ``local_socket`` when a socket is,
  ``local`` otherwise;
- points ``DBT_PROFILES_DIR`` at a folder holding ``profiles.example.yml`` as
  ``profiles.yml`` (default ``.local/dbt/``; the file is refreshed when it differs);
- turns off dbt's anonymous usage statistics;
- keeps dbt's file log (``logs/dbt.log``) at ``info`` unless ``DBT_LOG_LEVEL_FILE`` is
  set (``debug`` adds every SQL statement and Jinja step: about a fifth of a build's
  CPU in ``make bench``; the compiled SQL of every node is in ``target/run`` anyway);
- with a CA bundle set, makes dbt-mysql's connector verify the server certificate
  against it (dbt-mysql 1.7.0 has no TLS profile keys of its own).

Target and log paths default to ``$DBT_TARGET_PATH`` and ``$DBT_LOG_PATH``, else to
``dbt_project/target`` and ``dbt_project/logs``;
a read-only deployment (Lambda) passes folders under ``/tmp``.

:func:`summarize` turns a build's result into rows per mart and counts of tests
passed, warned and failed, for ``make run`` to print.

Command line::

    python -m transform build            # any dbt arguments; prints the summary
"""

from __future__ import annotations

import filecmp
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from extract.settings import LOCAL_DIR, PROJECT_ROOT, Settings

if TYPE_CHECKING:  # dbt is imported lazily: the import alone takes 3-4 s
    from dbt.cli.main import dbtRunnerResult

#: The dbt project folder.
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
#: The committed, secret-free profile that every run uses.
PROFILES_TEMPLATE = PROJECT_ROOT / "profiles.example.yml"
#: Default folder of the generated ``profiles.yml`` (git-ignored).
DEFAULT_PROFILES_DIR = LOCAL_DIR / "dbt"
#: The reconciliation mart (one row per landing row: records in payload, staged, rejected).
RECONCILIATION = "landing_reconciliation"


def mart_names(project_dir: Path = DBT_PROJECT_DIR) -> tuple[str, ...]:
    """Every mart of the project, sorted: the models (``*.sql``) under ``models/marts``.

    Read from the folder, so a new mart shows in the summary without another list to keep;
    empty when the project is not there (a deployment without ``dbt_project/``).
    """
    return tuple(sorted(path.stem for path in (Path(project_dir) / "models" / "marts").rglob("*.sql")))


#: Marts whose row counts the summary reports, in the order shown (every mart: :func:`mart_names`).
MARTS = mart_names()


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The environment variables ``profiles.example.yml`` and the project read, from ``settings``.

    Contains the dbt user's password: put it into ``os.environ`` only, never log it.
    """
    env = {
        "GANS_DB_HOST": settings.db_host,
        "GANS_DB_PORT": str(settings.db_port),
        "GANS_DB_SOCKET": settings.db_socket,
        "GANS_DB_SSL_CA": settings.db_ssl_ca,
        "GANS_RAW_DATABASE": settings.raw_database,
        "GANS_STAGING_DATABASE": settings.staging_database,
        "GANS_MARTS_DATABASE": settings.marts_database,
        "GANS_TEST_FAILURES_DATABASE": settings.test_failures_database,
        "GANS_DBT_USER": settings.dbt_user,
        "GANS_DBT_PASSWORD": settings.dbt_password.get_secret_value(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
    }
    if not os.environ.get("GANS_DBT_TARGET"):
        env["GANS_DBT_TARGET"] = "rds" if settings.db_ssl_ca else ("local_socket" if settings.db_socket else "local")
    return env


def prepare_profiles_dir(profiles_dir: Path | None = None) -> Path:
    """Make ``profiles_dir`` (default ``.local/dbt``) hold the profile template as ``profiles.yml``.

    The copy is rewritten only when it differs from ``profiles.example.yml``.
    Returns the folder. Raises :class:`OSError` when it cannot be written.
    """
    folder = Path(profiles_dir) if profiles_dir is not None else DEFAULT_PROFILES_DIR
    target = folder / "profiles.yml"
    if not (target.exists() and filecmp.cmp(PROFILES_TEMPLATE, target, shallow=False)):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROFILES_TEMPLATE, target)
    return folder


class _VerifyingConnector:
    """Stands in for ``mysql.connector`` inside dbt-mysql: adds CA verification to ``connect``."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def connect(self, *args, **kwargs):
        ca = os.environ.get("GANS_DB_SSL_CA", "")
        if ca:
            kwargs.setdefault("ssl_ca", ca)
            kwargs.setdefault("ssl_verify_cert", True)
        return self._real.connect(*args, **kwargs)


def _install_tls_verification() -> None:
    """Make dbt-mysql verify the server against ``GANS_DB_SSL_CA`` when it is set (idempotent)."""
    import types

    import mysql.connector
    from dbt.adapters.mysql import connections

    if not isinstance(getattr(connections.mysql, "connector", None), _VerifyingConnector):
        connections.mysql = types.SimpleNamespace(connector=_VerifyingConnector(mysql.connector))


def run_dbt(
    args: list[str],
    settings: Settings | None = None,
    *,
    project_dir: Path = DBT_PROJECT_DIR,
    target_path: Path | None = None,
    log_path: Path | None = None,
    profiles_dir: Path | None = None,
    callbacks: list | None = None,
    log_level_file: str = "info",
) -> dbtRunnerResult:
    """Run one dbt command (``args`` as on the command line, e.g. ``["build"]``) in-process.

    ``settings`` default to a fresh :class:`Settings`. ``target_path`` and
    ``log_path`` default to ``$DBT_TARGET_PATH`` / ``$DBT_LOG_PATH`` when set, else to
    ``target`` and ``logs`` inside ``project_dir``;
    ``profiles_dir`` to ``.local/dbt`` (see :func:`prepare_profiles_dir`); ``callbacks``
    (functions of one dbt ``EventMsg``) are passed to :class:`dbtRunner`;
    ``log_level_file`` is dbt's file log level (``debug``, ``info``, ..., ``none``) unless
    the setting ``DBT_LOG_LEVEL_FILE`` (environment or ``.env``) is set.
    Returns dbt's ``dbtRunnerResult``: ``.success`` is False when a model or test
    failed (``.result`` has the per-node results) or, with ``.exception`` set, when
    dbt could not run at all (bad profile, database down). Invocations must not run
    concurrently in one process. Raises nothing for dbt failures.
    """
    settings = settings if settings is not None else Settings()
    os.environ.update(dbt_environment(settings))
    folder = prepare_profiles_dir(profiles_dir)
    project_dir = Path(project_dir)
    paths = {
        "DBT_PROFILES_DIR": str(folder),
        "DBT_TARGET_PATH": str(target_path or os.environ.get("DBT_TARGET_PATH") or project_dir / "target"),
        "DBT_LOG_PATH": str(log_path or os.environ.get("DBT_LOG_PATH") or project_dir / "logs"),
        "DBT_LOG_LEVEL_FILE": settings.dbt_log_level_file or log_level_file,
    }
    saved = {name: os.environ.get(name) for name in paths}
    os.environ.update(paths)  # for this call only: restored below

    from dbt.cli.main import dbtRunner

    _install_tls_verification()
    argv = [*args, "--project-dir", str(project_dir), "--profiles-dir", str(folder)]
    try:
        return dbtRunner(callbacks=callbacks or []).invoke(argv)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class BuildSummary:
    """What a dbt run did: node statuses by resource type, and rows per mart (None: not built)."""

    success: bool
    statuses: dict[str, Counter] = field(default_factory=dict)
    mart_rows: dict[str, int | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    #: Per source (openweather, aerodatabox_flights, ...): records in the landed payloads,
    #: staged, rejected, over all history, from the reconciliation mart; empty when not built.
    source_records: dict[str, tuple[int, int, int]] = field(default_factory=dict)

    @property
    def tests(self) -> Counter:
        """Test outcomes: ``pass``, ``warn``, ``fail``, ``error``, ``skipped``."""
        return self.statuses.get("test", Counter())

    def format(self) -> str:
        """A few human-readable lines for the terminal."""
        lines = [f"dbt {'succeeded' if self.success else 'FAILED'}"]
        for kind in ("seed", "model", "test"):
            counts = self.statuses.get(kind)
            if counts:
                lines.append(f"  {kind + 's':<7} " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        if self.mart_rows:
            lines.append("  rows per mart:")
            for name, rows in self.mart_rows.items():
                lines.append(f"    {name:<24} {'-' if rows is None else rows:>8}")
        if self.source_records:
            lines.append(f"  {'records per source:':<28} {'in payloads':>11} {'staged':>8} {'rejected':>8}")
            for name, (records, staged, rejected) in self.source_records.items():
                lines.append(f"    {name:<24} {records:>11} {staged:>8} {rejected:>8}")
        for failure in self.failures:
            lines.append(f"  ! {failure}")
        return "\n".join(lines)


def summarize(result: dbtRunnerResult, settings: Settings | None = None) -> BuildSummary:
    """Summarise a ``run_dbt`` result; with ``settings``, count the rows of every mart.

    Counting connects as the dbt user to the marts database; a mart that does not
    exist shows as None. With ``settings`` it also reads, per source, the records in
    the landed payloads, staged and rejected (sums over ``landing_reconciliation``,
    all history), when that mart exists.
    """
    summary = BuildSummary(success=bool(result.success))
    if result.exception is not None:
        summary.failures.append(f"dbt did not run: {result.exception}")
    for node_result in getattr(result.result, "results", None) or []:
        node = node_result.node
        status = str(getattr(node_result.status, "value", node_result.status))
        summary.statuses.setdefault(node.resource_type, Counter())[status] += 1
        if status in ("fail", "error", "warn"):
            message = (node_result.message or "").strip().splitlines()
            summary.failures.append(f"{status} {node.name}: {message[0] if message else ''}")
    if settings is not None:
        from extract import db

        conn = db.connect(settings, "dbt", database=settings.marts_database)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "select table_name from information_schema.tables where table_schema = %s",
                    (settings.marts_database,),
                )
                present = {row[0] for row in cur.fetchall()}
                for mart in MARTS:
                    if mart in present:
                        cur.execute(f"select count(*) from `{mart}`")
                        summary.mart_rows[mart] = cur.fetchone()[0]
                    else:
                        summary.mart_rows[mart] = None
                if RECONCILIATION in present:
                    cur.execute(
                        "select source_name, sum(records_in_payload), sum(records_staged), sum(records_rejected)"
                        f" from `{RECONCILIATION}` group by source_name order by source_name"
                    )
                    for name, records, staged, rejected in cur.fetchall():
                        summary.source_records[name] = (int(records), int(staged), int(rejected))
        finally:
            conn.close()
    return summary


def main(argv: list[str] | None = None) -> int:
    """``python -m transform <dbt args>``: run dbt, print the summary; exit 1 on failure."""
    args = list(sys.argv[1:] if argv is None else argv) or ["build"]
    settings = Settings()
    result = run_dbt(args, settings)
    try:
        summary = summarize(result, settings)
    except Exception as exc:  # the database may be down: still report dbt's outcome
        summary = summarize(result)
        summary.failures.append(f"rows not counted: {exc}")
    print(summary.format())
    return 0 if result.success else 1
