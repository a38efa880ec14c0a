"""Reading the test database in one call: :func:`query` (rows) and :func:`scalar` (one value).

Each call opens its own connection (:func:`extract.db.connect`) and closes it, so a test sees what
was committed before it, as the role under test would.
"""

from __future__ import annotations

from typing import Any

from extract import db
from extract.settings import Settings


def query(
    settings: Settings, sql: str, params: Any = None, *, role: db.Role = "analyst", database: str | None = None
) -> list[tuple]:
    """The rows of ``sql`` run as ``role`` on ``database`` (default: the marts for the analyst, else raw)."""
    if database is None and role == "analyst":
        database = settings.marts_database
    conn = db.connect(settings, role, database=database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def scalar(settings: Settings, sql: str, params: Any = None, **options) -> Any:
    """The first column of the first row of ``sql`` (see :func:`query` for ``options``); IndexError when no row."""
    return query(settings, sql, params, **options)[0][0]
