"""Lambda entry point of the one-off database bootstrap: databases, users, grants, migrations.

Invoke it by hand after the first deploy, and again after a deploy that ships a new
migration or a rotated application password (it is idempotent)::

    aws lambda invoke --function-name <stack>-bootstrap --payload '{}' out.json

It reads the master (admin) secret, the RDS-managed one or the one named by the
``ExistingDbMasterSecretName`` parameter, and the loader, dbt and analyst secrets
(``GANS_DB_SECRET_*``), then runs :func:`extract.db.bootstrap` (which also applies the
migrations) as the master user. Never drops anything: ``reset`` is not offered here.

Returns ``{"databases": [...], "migrations_applied": [versions], "schema_version": N}``;
raises on any database error (the invocation then shows as failed).
"""

from __future__ import annotations

import logging
from typing import Any

from gans_lambda import aws_secrets, observability

log = logging.getLogger(__name__)
observability.configure()


def handler(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    """Bootstrap and migrate the Gans databases as the admin user; ``event`` is ignored."""
    from extract import db

    settings = aws_secrets.load_settings()
    settings.require("loader_password", "dbt_password", "analyst_password")
    before = _applied(settings)
    db.bootstrap(settings)
    after = _applied(settings)
    report = {
        "databases": [
            settings.raw_database,
            settings.staging_database,
            settings.marts_database,
            settings.test_failures_database,
        ],
        "migrations_applied": sorted(after - before),
        "schema_version": max(after, default=0),
    }
    log.info("bootstrap done: %s", report)
    return report


def _applied(settings) -> set[int]:
    """Versions recorded in ``schema_migrations`` (empty when the raw database or table is missing)."""
    import pymysql

    from extract import db

    raw = settings.raw_database
    if not raw.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {raw!r}")
    conn = db.connect(settings, "admin", database="")
    try:
        with conn.cursor() as cur:
            cur.execute(f"select version from `{raw}`.schema_migrations")
            return {row[0] for row in cur.fetchall()}
    except pymysql.err.ProgrammingError:  # 1146: no such table (or database) yet
        return set()
    finally:
        conn.close()
