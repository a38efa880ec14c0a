"""Migration 001: the run log (``extract_runs``), the error log (``extract_errors``) and the first four landing tables.

The run and error logs are written out; the landing tables come from :func:`landing_table`. The text
is kept as applied (its checksum is stored in deployed databases), including the column comment of
``extract_runs.source`` that migration 013 replaced.
"""

from extract.migrations.landing import landing_table

RUN_AND_ERROR_LOG = """\
-- Landing tables (one per source), the run log and the error log.
-- Runs on MariaDB 10.11 and MySQL 8. All datetimes are UTC.

create table if not exists extract_runs (
  id bigint not null auto_increment primary key,
  source varchar(64) not null comment 'wikipedia, openweather, aerodatabox_airports or aerodatabox_flights',
  run_trigger varchar(32) not null comment 'cli, replay, lambda, ...',
  idempotency_key varchar(255) null comment 'set by scheduled runs: a delivery seen before is skipped',
  started_at datetime(6) not null,
  finished_at datetime(6) null,
  status varchar(16) not null comment 'running, succeeded, failed',
  requests int not null default 0,
  rows_landed int not null default 0,
  rows_duplicate int not null default 0,
  errors int not null default 0,
  key ix_extract_runs_source_started (source, started_at),
  key ix_extract_runs_idempotency (idempotency_key)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='one row per extraction run and source';

create table if not exists extract_errors (
  id bigint not null auto_increment primary key,
  run_id bigint not null,
  source varchar(64) not null,
  request_key json null,
  error_type varchar(100) not null,
  message text not null,
  http_status smallint null,
  body mediumtext null comment 'the offending response body, truncated to 1 MB',
  occurred_at datetime(6) not null,
  key ix_extract_errors_run (run_id),
  constraint fk_extract_errors_run foreign key (run_id) references extract_runs (id)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='what failed in a run, with the body';

"""  # noqa: E501

SQL = "\n".join(
    [
        RUN_AND_ERROR_LOG
        + landing_table(
            "wikipedia_city_pages",
            "Wikipedia article of a city: fields parsed from the infobox as JSON, plus the infobox HTML for audit",
            payload_columns=("infobox_html mediumtext null comment 'the infobox table as served, for audit'",),
        ),
        landing_table("openweather_forecasts", "OpenWeather /data/2.5/forecast response for a city, whole"),
        landing_table("aerodatabox_airports", "AeroDataBox airport search-by-location response for a city, whole"),
        landing_table("aerodatabox_flights", "AeroDataBox FIDS response for an airport and local time window, whole"),
    ]
)
