"""Migration 012: the GBFS landing table, with stored generated columns for the ttl check and staging."""

from extract.migrations.landing import landing_table

# The header is kept as applied (its checksum is stored): the retention command is `gans retention` now.
SQL = (
    "-- GBFS landing table: one row per GBFS document fetched (discovery, system_information,\n"
    "-- vehicle_types, free_bike_status / vehicle_status) of one operator system.\n"
    "-- Runs on MariaDB 10.11 and MySQL 8. All datetimes are UTC.\n"
    "-- system_id, feed and ttl_s are stored generated columns (from the request key and the\n"
    "-- payload), so the ttl check of the extractor and the incremental staging read one index\n"
    "-- instead of parsing every JSON document. Raw rows are deleted after the retention period\n"
    "-- (python -m gans gbfs-retention; the loader holds DELETE on this table only).\n"
    "\n"
    + landing_table(
        "gbfs_feeds",
        "GBFS document of an operator system, whole",
        request_key_example='{"system_id": "dott_berlin", "feed": "free_bike_status"}',
        request_params_comment="query parameters as sent (none for GBFS)",
        columns=(
            "system_id varchar(100) as (json_unquote(json_extract(request_key, '$.system_id'))) stored"
            " comment 'GBFS system of the request key (seed gbfs_systems)'",
            "feed varchar(40) as (json_unquote(json_extract(request_key, '$.feed'))) stored"
            " comment 'feed name as GBFS gives it: gbfs, system_information, vehicle_types, free_bike_status,"
            " vehicle_status'",
            "ttl_s int as (cast(json_extract(payload, '$.ttl') as signed)) stored"
            " comment 'seconds the document stays valid, as published'",
        ),
        keys=(
            "key ix_gbfs_feeds_latest (system_id, feed, fetched_at)",
            "key ix_gbfs_feeds_fetched_at (fetched_at)",
        ),
    )
)
