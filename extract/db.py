"""Connections, schema migrations and database bootstrap for the Gans databases.

Databases (names from :class:`extract.settings.Settings`):

- ``gans_raw``: landing tables written by the extractors, plus the run log
  (``extract_runs``, ``extract_errors``) and ``schema_migrations``;
- ``gans_staging``: dbt staging and intermediate views;
- ``gans``: dbt marts, read by analysts;
- ``gans_test_failures``: the rows each failing dbt test found (``store_failures``).

Users, least privilege:

- ``gans_loader``: SELECT on ``gans_raw``; INSERT on the landing tables and
  ``extract_errors`` only; DELETE on the landing tables of the sources declaring a retention
  period (:mod:`extract.retention`); EXECUTE on the run procedures (:mod:`extract.runlog`), its
  only way to open, renew and close runs (its own only); nothing on ``schema_migrations``;
- ``gans_dbt``: SELECT on ``gans_raw``; everything on ``gans_staging``, ``gans`` and
  ``gans_test_failures``;
- ``gans_analyst``: SELECT on ``gans_staging``, ``gans`` and ``gans_test_failures``
  (the marts' view ``recent_extract_errors`` shows it the reasons of failed requests,
  not the bodies, without any right on ``gans_raw``).

The SQL here runs on MariaDB 10.11 (local, tests) and MySQL 8 (RDS). Every
session runs in UTC (``time_zone = '+00:00'``), so DATETIME columns hold UTC.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import re
import ssl
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import pymysql
import pymysql.cursors

from extract.settings import Settings

log = logging.getLogger(__name__)

Role = Literal["admin", "loader", "dbt", "analyst"]


class TlsVerificationError(pymysql.err.OperationalError):
    """The server's TLS certificate did not verify against ``GANS_DB_SSL_CA``.

    The message names the server and the CA bundle and carries the TLS library's reason
    (e.g. ``certificate verify failed: unable to get local issuer certificate``): the
    bundle is not the CA that signed the server's certificate, or the file is not a CA.
    """


def connect(settings: Settings, role: Role = "loader", database: str | None = None, **kwargs) -> pymysql.Connection:
    """Open a PyMySQL connection as ``role`` (its user and password from ``settings``).

    ``database`` defaults to the raw (landing) database. The connection uses
    utf8mb4, autocommit off and a UTC session time zone; over the socket when
    ``GANS_DB_SOCKET`` is set, else TCP, with TLS verified against
    ``GANS_DB_SSL_CA`` when that is set: the certificate chain must lead to that CA
    bundle; the host name is not compared, because the functions reach RDS through a
    private DNS alias (``mysql.<zone>``) that RDS's certificate does not name.

    Raises :class:`TlsVerificationError` when the server's certificate does not verify
    against the bundle, and :class:`pymysql.err.OperationalError` when the server cannot
    be reached or refuses the login.
    """
    user = getattr(settings, f"{role}_user")
    password = getattr(settings, f"{role}_password").get_secret_value()
    params: dict = {
        "user": user,
        "password": password,
        "database": settings.raw_database if database is None else (database or None),
        "charset": "utf8mb4",
        "autocommit": False,
        "init_command": "SET time_zone = '+00:00'",
        "connect_timeout": 10,
    }
    if settings.db_socket:
        params["unix_socket"] = settings.db_socket
    else:
        params["host"] = settings.db_host
        params["port"] = settings.db_port
    if settings.db_ssl_ca:
        # ssl_ca, not ssl={"ca": ...}: PyMySQL rebuilds the ssl dict when ssl_verify_cert is
        # also given and drops the CA, verifying against the system store instead.
        params["ssl_ca"] = settings.db_ssl_ca
        params["ssl_verify_cert"] = True
    params.update(kwargs)
    try:
        return pymysql.connect(**params)
    except pymysql.err.OperationalError as exc:
        cause = getattr(exc, "original_exception", None) or exc.__cause__ or exc.__context__
        if settings.db_ssl_ca and isinstance(cause, ssl.SSLError):
            where = params.get("unix_socket") or f"{params.get('host')}:{params.get('port')}"
            raise TlsVerificationError(
                exc.args[0],
                f"TLS verification of the database server {where} against the CA bundle "
                f"{settings.db_ssl_ca} failed: {cause}",
            ) from exc
        raise


# --------------------------------------------------------------------------------------
# Migrations


@dataclass(frozen=True)
class Migration:
    """One versioned migration of ``extract/migrations``: its version, name and SQL text.

    The text is an ``NNN_name.sql`` file as written, or the ``SQL`` string of an ``NNN_name.py``
    module (a migration that builds landing tables with
    :func:`extract.migrations.landing.landing_table` instead of copying their DDL).
    """

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL text, stored to detect a migration changed after it was applied."""
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """The text's statements: split on ``;`` at line ends, comments dropped."""
        lines = [line for line in self.sql.splitlines() if not line.strip().startswith("--")]
        return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


_MIGRATION_FILE = re.compile(r"(?P<version>[0-9]+)_(?P<name>\w+)\.(?P<kind>sql|py)")


def migrations() -> list[Migration]:
    """All migrations shipped in the package (``NNN_name.sql`` files and ``NNN_name.py`` modules), in version order."""
    found = []
    for entry in resources.files("extract.migrations").iterdir():
        match = _MIGRATION_FILE.fullmatch(entry.name)
        if match is None:
            continue
        if match["kind"] == "sql":
            sql = entry.read_text(encoding="utf-8")
        else:
            sql = importlib.import_module(f"extract.migrations.{entry.name.removesuffix('.py')}").SQL
        found.append(Migration(int(match["version"]), match["name"], sql))
    return sorted(found, key=lambda m: m.version)


class MigrationError(RuntimeError):
    """An applied migration's file changed since it was applied."""


def migrate(settings: Settings) -> list[int]:
    """Apply pending migrations to the raw database as the admin user.

    Returns the versions applied now (empty when the schema is current: applying
    twice is a no-op). Each migration is recorded in ``schema_migrations`` with its
    checksum; a changed, already applied file raises :class:`MigrationError`.
    DDL is not transactional in MySQL, so every statement is written to be
    re-runnable (``CREATE TABLE IF NOT EXISTS``).
    """
    conn = connect(settings, "admin")
    applied_now: list[int] = []
    try:
        with conn.cursor() as cur:
            cur.execute(
                "create table if not exists schema_migrations ("
                " version int not null primary key,"
                " name varchar(200) not null,"
                " checksum char(64) not null,"
                " applied_at datetime(6) not null"
                ") engine=InnoDB default charset=utf8mb4"
            )
            cur.execute("select version, checksum from schema_migrations")
            done = dict(cur.fetchall())
            for migration in migrations():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version}_{migration.name} changed after it was applied; "
                            "add a new migration instead"
                        )
                    continue
                for statement in migration.statements():
                    cur.execute(statement)
                cur.execute(
                    "insert into schema_migrations (version, name, checksum, applied_at)"
                    " values (%s, %s, %s, utc_timestamp(6))",
                    (migration.version, migration.name, migration.checksum),
                )
                conn.commit()
                applied_now.append(migration.version)
                log.info("applied migration %s_%s", migration.version, migration.name)
    finally:
        conn.close()
    return applied_now


# --------------------------------------------------------------------------------------
# Bootstrap: databases, users, grants


def quote_ident(name: str) -> str:
    """``name`` back-quoted as an SQL identifier; :class:`ValueError` unless it is letters, digits and ``_``."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unsafe identifier {name!r}")
    return f"`{name}`"


def bootstrap(settings: Settings, *, reset: bool = False) -> None:
    """Create the four databases and the three users with their grants (idempotent).

    Run as the admin user (root locally, the RDS master user in AWS). Passwords
    come from ``settings``; an existing user's password is set again, so rotating a
    password is a re-run. With ``reset=True`` the databases are dropped first and
    recreated empty. Users are created for host ``%``.
    """
    raw = quote_ident(settings.raw_database)
    staging = quote_ident(settings.staging_database)
    marts = quote_ident(settings.marts_database)
    failures = quote_ident(settings.test_failures_database)
    conn = connect(settings, "admin", database="", autocommit=True)
    try:
        with conn.cursor() as cur:
            for db in (raw, staging, marts, failures):
                if reset:
                    cur.execute(f"drop database if exists {db}")
                cur.execute(f"create database if not exists {db} character set utf8mb4 collate utf8mb4_unicode_ci")
            for role in ("loader", "dbt", "analyst"):
                user = getattr(settings, f"{role}_user")
                password = getattr(settings, f"{role}_password").get_secret_value()
                if not password:
                    raise ValueError(f"no password for the {role} user (GANS_{role.upper()}_PASSWORD)")
                cur.execute("create user if not exists %s@'%%' identified by %s", (user, password))
                cur.execute("alter user %s@'%%' identified by %s", (user, password))
            # earlier versions granted the loader INSERT on the whole raw database and UPDATE on
            # extract_runs: it could mark any run succeeded and write schema_migrations
            for what in (f"insert on {raw}.*", f"update on {raw}.`extract_runs`"):
                _revoke(cur, what, settings.loader_user)
            grants = [
                (f"select on {raw}.*", settings.loader_user),
                (f"select on {raw}.*", settings.dbt_user),
                (f"all privileges on {staging}.*", settings.dbt_user),
                (f"all privileges on {marts}.*", settings.dbt_user),
                (f"all privileges on {failures}.*", settings.dbt_user),
                (f"select on {staging}.*", settings.analyst_user),
                (f"select on {marts}.*", settings.analyst_user),
                (f"select on {failures}.*", settings.analyst_user),
            ]
            for what, user in grants:
                cur.execute(f"grant {what} to %s@'%%'", (user,))
    finally:
        conn.close()
    # the tables and procedures exist only once migrated: grant the loader's table rights then
    migrate(settings)
    from extract.sources import REGISTRY

    conn = connect(settings, "admin", autocommit=True)
    try:
        with conn.cursor() as cur:
            for table in sorted({s.landing_table for s in REGISTRY.values()} | set(LOADER_INSERT_TABLES)):
                cur.execute(f"grant insert on {raw}.{quote_ident(table)} to %s@'%%'", (settings.loader_user,))
            for procedure in LOADER_PROCEDURES:
                cur.execute(f"grant execute on procedure {raw}.{procedure} to %s@'%%'", (settings.loader_user,))
            # a source declaring a retention period keeps its raw rows that long only (extract.retention):
            # DELETE on its landing table, and on no other
            for source in REGISTRY.values():
                table = f"{raw}.{quote_ident(source.landing_table)}"
                if source.retention_setting is not None:
                    cur.execute(f"grant delete on {table} to %s@'%%'", (settings.loader_user,))
                else:
                    _revoke(cur, f"delete on {table}", settings.loader_user)
    finally:
        conn.close()


#: tables beside the landing tables the loader inserts into: errors, and the fan-out plans (migration 011)
LOADER_INSERT_TABLES = ("extract_errors", "extract_plan_batches")
#: the run-log procedures (migration 010) the loader may call; it has no INSERT or UPDATE on extract_runs
LOADER_PROCEDURES = ("gans_open_run", "gans_renew_run_lease", "gans_close_run", "gans_close_abandoned_run")


def _revoke(cur, what: str, user: str) -> None:
    """``revoke <what> from user``, ignoring "no such grant" (1141, 1147): bootstrap is re-runnable."""
    try:
        cur.execute(f"revoke {what} from %s@'%%'", (user,))
    except pymysql.err.MySQLError as exc:
        if exc.args[0] not in (1141, 1147):
            raise
