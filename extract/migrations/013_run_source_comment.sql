-- extract_runs.source named four sources in migration 001's column comment; there are more now,
-- and an applied migration may not change (its checksum is stored), so the comment is replaced
-- here by one that lists none. Only the comment changes (same type, nullability, collation).
-- Runs on MariaDB 10.11 and MySQL 8.

alter table extract_runs
  modify column source varchar(64) not null comment 'a registered source name (extract.sources.REGISTRY)';
