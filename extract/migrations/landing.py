"""The DDL of a landing table, written once: every source's table in ``gans_raw`` has the same shape.

A landing table holds one row per distinct response of its source: the run that fetched it, the
logical request (``request_key`` and its SHA-256), the query parameters as sent, the UTC instant
of the response, its HTTP status, the payload as JSON and its SHA-256, and the server's UTC
instant of the write; ``(request_key_sha256, payload_sha256)`` is unique, so a re-load lands
nothing twice. A source may add columns (after the payload, or after ``loaded_at``, e.g. stored
generated columns) and keys.

Migrations call :func:`landing_table` instead of copying the DDL. Its output for migrations 001,
002 and 012 is byte for byte the text those files had when they were applied, so the checksums
recorded in deployed databases still match (``tests/test_db.py`` holds the recorded checksums):
change this template only in a way that keeps them, and change a deployed table by a new
``ALTER`` migration.
"""

from collections.abc import Sequence

REQUEST_KEY_EXAMPLE = '{"city": "Berlin"}'
REQUEST_PARAMS_COMMENT = "query parameters as sent, never an API key"


def landing_table(
    table: str,
    comment: str,
    *,
    request_key_example: str = REQUEST_KEY_EXAMPLE,
    request_params_comment: str = REQUEST_PARAMS_COMMENT,
    payload_columns: Sequence[str] = (),
    columns: Sequence[str] = (),
    keys: Sequence[str] = (),
) -> str:
    """``CREATE TABLE IF NOT EXISTS`` of the landing table ``table`` (MariaDB 10.11 and MySQL 8), ending ``;\\n``.

    ``comment`` is the table's comment (what one row is); ``request_key_example`` and
    ``request_params_comment`` go into those columns' comments. ``payload_columns`` are column
    definitions placed after ``payload``, ``columns`` after ``loaded_at``, ``keys`` index
    definitions after the ``loaded_at`` index, each without the trailing comma. Raises
    :class:`ValueError` for a table name that is not a plain identifier.
    """
    if not table.replace("_", "").isalnum() or not table.islower():
        raise ValueError(f"landing table name must be lower-case letters, digits and _: {table!r}")
    lines = [
        "id bigint not null auto_increment primary key",
        "run_id bigint not null",
        f"request_key json not null comment 'the logical request, e.g. {request_key_example}'",
        "request_key_sha256 char(64) not null comment 'SHA-256 of the canonical request_key JSON'",
        f"request_params json not null comment '{request_params_comment}'",
        "fetched_at datetime(6) not null comment 'UTC instant of the HTTP response'",
        "http_status smallint not null",
        "payload json not null",
        *payload_columns,
        "payload_sha256 char(64) not null comment 'SHA-256 of the canonical payload JSON'",
        "loaded_at datetime(6) not null default current_timestamp(6)"
        " comment 'UTC instant the row was written (server clock)'",
        *columns,
        f"unique key uq_{table}_key_payload (request_key_sha256, payload_sha256)",
        f"key ix_{table}_loaded_at (loaded_at)",
        *keys,
        f"key ix_{table}_run (run_id)",
        f"constraint fk_{table}_run foreign key (run_id) references extract_runs (id)",
    ]
    body = ",\n".join(f"  {line}" for line in lines)
    return (
        f"create table if not exists {table} (\n{body}\n"
        f") engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='{comment}';\n"
    )
