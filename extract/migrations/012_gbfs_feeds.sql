-- GBFS landing table: one row per GBFS document fetched (discovery, system_information,
-- vehicle_types, free_bike_status / vehicle_status) of one operator system.
-- Runs on MariaDB 10.11 and MySQL 8. All datetimes are UTC.
-- system_id, feed and ttl_s are stored generated columns (from the request key and the
-- payload), so the ttl check of the extractor and the incremental staging read one index
-- instead of parsing every JSON document. Raw rows are deleted after the retention period
-- (python -m gans gbfs-retention; the loader holds DELETE on this table only).

create table if not exists gbfs_feeds (
  id bigint not null auto_increment primary key,
  run_id bigint not null,
  request_key json not null comment 'the logical request, e.g. {"system_id": "dott_berlin", "feed": "free_bike_status"}',
  request_key_sha256 char(64) not null comment 'SHA-256 of the canonical request_key JSON',
  request_params json not null comment 'query parameters as sent (none for GBFS)',
  fetched_at datetime(6) not null comment 'UTC instant of the HTTP response',
  http_status smallint not null,
  payload json not null,
  payload_sha256 char(64) not null comment 'SHA-256 of the canonical payload JSON',
  loaded_at datetime(6) not null default current_timestamp(6) comment 'UTC instant the row was written (server clock)',
  system_id varchar(100) as (json_unquote(json_extract(request_key, '$.system_id'))) stored comment 'GBFS system of the request key (seed gbfs_systems)',
  feed varchar(40) as (json_unquote(json_extract(request_key, '$.feed'))) stored comment 'feed name as GBFS gives it: gbfs, system_information, vehicle_types, free_bike_status, vehicle_status',
  ttl_s int as (cast(json_extract(payload, '$.ttl') as signed)) stored comment 'seconds the document stays valid, as published',
  unique key uq_gbfs_feeds_key_payload (request_key_sha256, payload_sha256),
  key ix_gbfs_feeds_loaded_at (loaded_at),
  key ix_gbfs_feeds_latest (system_id, feed, fetched_at),
  key ix_gbfs_feeds_fetched_at (fetched_at),
  key ix_gbfs_feeds_run (run_id),
  constraint fk_gbfs_feeds_run foreign key (run_id) references extract_runs (id)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='GBFS document of an operator system, whole';
