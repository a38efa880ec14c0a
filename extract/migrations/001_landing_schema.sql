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

create table if not exists wikipedia_city_pages (
  id bigint not null auto_increment primary key,
  run_id bigint not null,
  request_key json not null comment 'the logical request, e.g. {"city": "Berlin"}',
  request_key_sha256 char(64) not null comment 'SHA-256 of the canonical request_key JSON',
  request_params json not null comment 'query parameters as sent, never an API key',
  fetched_at datetime(6) not null comment 'UTC instant of the HTTP response',
  http_status smallint not null,
  payload json not null,
  infobox_html mediumtext null comment 'the infobox table as served, for audit',
  payload_sha256 char(64) not null comment 'SHA-256 of the canonical payload JSON',
  loaded_at datetime(6) not null default current_timestamp(6) comment 'UTC instant the row was written (server clock)',
  unique key uq_wikipedia_city_pages_key_payload (request_key_sha256, payload_sha256),
  key ix_wikipedia_city_pages_loaded_at (loaded_at),
  key ix_wikipedia_city_pages_run (run_id),
  constraint fk_wikipedia_city_pages_run foreign key (run_id) references extract_runs (id)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='Wikipedia article of a city: fields parsed from the infobox as JSON, plus the infobox HTML for audit';

create table if not exists openweather_forecasts (
  id bigint not null auto_increment primary key,
  run_id bigint not null,
  request_key json not null comment 'the logical request, e.g. {"city": "Berlin"}',
  request_key_sha256 char(64) not null comment 'SHA-256 of the canonical request_key JSON',
  request_params json not null comment 'query parameters as sent, never an API key',
  fetched_at datetime(6) not null comment 'UTC instant of the HTTP response',
  http_status smallint not null,
  payload json not null,
  payload_sha256 char(64) not null comment 'SHA-256 of the canonical payload JSON',
  loaded_at datetime(6) not null default current_timestamp(6) comment 'UTC instant the row was written (server clock)',
  unique key uq_openweather_forecasts_key_payload (request_key_sha256, payload_sha256),
  key ix_openweather_forecasts_loaded_at (loaded_at),
  key ix_openweather_forecasts_run (run_id),
  constraint fk_openweather_forecasts_run foreign key (run_id) references extract_runs (id)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='OpenWeather /data/2.5/forecast response for a city, whole';

create table if not exists aerodatabox_airports (
  id bigint not null auto_increment primary key,
  run_id bigint not null,
  request_key json not null comment 'the logical request, e.g. {"city": "Berlin"}',
  request_key_sha256 char(64) not null comment 'SHA-256 of the canonical request_key JSON',
  request_params json not null comment 'query parameters as sent, never an API key',
  fetched_at datetime(6) not null comment 'UTC instant of the HTTP response',
  http_status smallint not null,
  payload json not null,
  payload_sha256 char(64) not null comment 'SHA-256 of the canonical payload JSON',
  loaded_at datetime(6) not null default current_timestamp(6) comment 'UTC instant the row was written (server clock)',
  unique key uq_aerodatabox_airports_key_payload (request_key_sha256, payload_sha256),
  key ix_aerodatabox_airports_loaded_at (loaded_at),
  key ix_aerodatabox_airports_run (run_id),
  constraint fk_aerodatabox_airports_run foreign key (run_id) references extract_runs (id)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='AeroDataBox airport search-by-location response for a city, whole';

create table if not exists aerodatabox_flights (
  id bigint not null auto_increment primary key,
  run_id bigint not null,
  request_key json not null comment 'the logical request, e.g. {"city": "Berlin"}',
  request_key_sha256 char(64) not null comment 'SHA-256 of the canonical request_key JSON',
  request_params json not null comment 'query parameters as sent, never an API key',
  fetched_at datetime(6) not null comment 'UTC instant of the HTTP response',
  http_status smallint not null,
  payload json not null,
  payload_sha256 char(64) not null comment 'SHA-256 of the canonical payload JSON',
  loaded_at datetime(6) not null default current_timestamp(6) comment 'UTC instant the row was written (server clock)',
  unique key uq_aerodatabox_flights_key_payload (request_key_sha256, payload_sha256),
  key ix_aerodatabox_flights_loaded_at (loaded_at),
  key ix_aerodatabox_flights_run (run_id),
  constraint fk_aerodatabox_flights_run foreign key (run_id) references extract_runs (id)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='AeroDataBox FIDS response for an airport and local time window, whole';
