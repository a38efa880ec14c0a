-- Runs that always close, atomic idempotency claims, and a loader that can touch only its own runs.
-- Runs on MariaDB 10.11 and MySQL 8 (one ALTER: atomic DDL on MySQL 8; procedures with a
-- single-statement body, so no DELIMITER is needed). All datetimes are UTC.
--
-- The loader has no INSERT or UPDATE on extract_runs: it opens, renews, closes and closes as
-- abandoned through these procedures (SQL SECURITY DEFINER, created by the admin user), each of
-- which checks what the caller may do:
--   owner_token_sha256  SHA-256 of a random token only the opening process knows: closing and
--                       renewing need the token, so a run can be closed only by the one that opened it;
--   lease_until         renewed while the run works; a run still running past it was killed and
--                       is closed as abandoned by the next run (gans_close_abandoned_run);
--   claim_sha256        SHA-256 of source/idempotency key, unique: of several overlapping
--                       deliveries of one scheduled event only one can open its run; released
--                       (NULL) when the run fails or is abandoned, kept when it succeeds.

alter table extract_runs
  add column lease_until datetime(6) null comment 'UTC; a running run past its lease is closed as abandoned' after finished_at,
  add column owner_token_sha256 char(64) null comment 'SHA-256 of the token of the process that opened the run' after lease_until,
  add column claim_sha256 char(64) null comment 'SHA-256 of source/idempotency_key while running or succeeded: one claim per key' after idempotency_key,
  add column secrets_redacted int not null default 0 comment 'configured secret values replaced by *** in bodies before landing' after errors,
  add unique key uq_extract_runs_claim (claim_sha256),
  add key ix_extract_runs_status_lease (status, lease_until);

drop procedure if exists gans_open_run;

create procedure gans_open_run(
  in p_source varchar(64), in p_trigger varchar(32), in p_idempotency_key varchar(255),
  in p_token varchar(128), in p_lease_seconds int
)
sql security definer
comment 'open a running run; a duplicate claim (error 1062) means another delivery holds the key'
insert into extract_runs
  (source, run_trigger, idempotency_key, claim_sha256, owner_token_sha256, started_at, lease_until, status)
values (
  p_source, p_trigger, p_idempotency_key,
  if(p_idempotency_key is null, null, sha2(concat(p_source, '/', p_idempotency_key), 256)),
  sha2(p_token, 256), utc_timestamp(6), timestampadd(second, p_lease_seconds, utc_timestamp(6)), 'running'
);

drop procedure if exists gans_renew_run_lease;

create procedure gans_renew_run_lease(in p_run_id bigint, in p_token varchar(128), in p_lease_seconds int)
sql security definer
comment 'extend the lease of a running run the caller opened'
update extract_runs
set lease_until = timestampadd(second, p_lease_seconds, utc_timestamp(6))
where id = p_run_id and owner_token_sha256 = sha2(p_token, 256) and status = 'running';

drop procedure if exists gans_close_run;

create procedure gans_close_run(
  in p_run_id bigint, in p_token varchar(128), in p_requests int, in p_rows_landed int,
  in p_rows_duplicate int, in p_errors int, in p_secrets_redacted int
)
sql security definer
comment 'close a running run the caller opened: failed when it counts or has recorded errors, else succeeded'
update extract_runs
set
  claim_sha256 = if(
    p_errors > 0 or exists (select 1 from extract_errors as e where e.run_id = p_run_id), null, claim_sha256
  ),
  status = if(
    p_errors > 0 or exists (select 1 from extract_errors as e where e.run_id = p_run_id), 'failed', 'succeeded'
  ),
  finished_at = utc_timestamp(6),
  lease_until = null,
  requests = p_requests,
  rows_landed = p_rows_landed,
  rows_duplicate = p_rows_duplicate,
  errors = greatest(p_errors, (select count(*) from extract_errors as e where e.run_id = p_run_id)),
  secrets_redacted = p_secrets_redacted
where id = p_run_id and owner_token_sha256 = sha2(p_token, 256) and status = 'running';

drop procedure if exists gans_close_abandoned_run;

create procedure gans_close_abandoned_run(in p_run_id bigint, in p_rows_landed int)
sql security definer
comment 'close a run still running past its lease as abandoned, releasing its claim'
update extract_runs
set
  claim_sha256 = null,
  status = 'abandoned',
  finished_at = utc_timestamp(6),
  rows_landed = p_rows_landed,
  errors = (select count(*) from extract_errors as e where e.run_id = p_run_id),
  requests = p_rows_landed + (select count(*) from extract_errors as e where e.run_id = p_run_id)
where id = p_run_id and status = 'running' and (lease_until is null or lease_until < utc_timestamp(6));
