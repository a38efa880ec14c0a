-- Fan-out plans (extract/fanout.py): the batches of request keys of one scheduled extraction.
-- Kept in the database, not in the Step Functions state: a plan of thousands of keys would pass
-- the 256 KB state limit. Runs on MariaDB 10.11 and MySQL 8. All datetimes are UTC.

create table if not exists extract_plan_batches (
  id bigint not null auto_increment primary key,
  plan_key varchar(200) not null comment '<schedule>@<scheduled time UTC>, or a manual idempotency key',
  source varchar(64) not null,
  round_no int not null comment '0: the plan; n > 0: keys left by batches of round n - 1 (time guard)',
  batch_no int not null,
  request_keys json not null comment 'the batch: a JSON array of request keys',
  api_seconds double not null comment 'planned API time of the batch at the per-worker rate, seconds',
  created_at datetime(6) not null,
  unique key ux_extract_plan_batches (plan_key, source, round_no, batch_no)
) engine=InnoDB default charset=utf8mb4 collate=utf8mb4_unicode_ci comment='fan-out batches of request keys';
