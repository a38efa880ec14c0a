-- Open-Meteo hourly forecasts (keyless weather source). Runs on MariaDB 10.11 and MySQL 8. Datetimes are UTC.

create table if not exists open_meteo_forecasts (
  id bigint not null auto_increment primary key,
  run_id bigint not null,
  request_key json not null comment 'the logical request, e.g. {"city": "Berlin"}',
  request_key_sha256 char(64) not null comment 'SHA-256 of the canonical request_key JSON',
  request_params json not null comment 'query parameters as sent (hourly variables, units, models), never an API key',
  fetched_at datetime(6) not null comment 'UTC instant of the HTTP response',
  http_status smallint not null,
  payload json not null,
  payload_sha256 char(64) not null comment 'SHA-256 of the canonical payload JSON',
  loaded_at datetime(6) not null default current_timestamp(6) comment 'UTC instant the row was written (server clock)',
  unique key uq_open_meteo_forecasts_key_payload (request_key_sha256, payload_sha256),
  key ix_open_meteo_forecasts_loaded_at (loaded_at),
  key ix_open_meteo_forecasts_run (run_id),
  constraint fk_open_meteo_forecasts_run foreign key (run_id) references extract_runs (id)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='Open-Meteo /v1/forecast hourly response for a city, whole';
