{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_int_gbfs__cell_snapshots_key', 'landing_id, cell_row, cell_col') }}",
            "{{ ensure_index('ix_int_gbfs__cell_snapshots_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_int_gbfs__cell_snapshots_bucket', 'system_id, bucket_start_utc, cell_row, cell_col, vehicles, vehicles_available, vehicles_disabled') }}",
        ],
    )
}}
-- noqa: disable=LT05
-- Vehicles per GBFS snapshot and grid cell (var gbfs_cell_size_m metres, square at the
-- city's latitude), counted from the staged vehicles; a cell without vehicles in a
-- snapshot has no row. Incremental: only snapshots loaded since the newest held (minus
-- the lookback) and not held yet: base_gbfs__vehicles parses each snapshot once, so a
-- snapshot's cells, once counted, do not change (the lookback's rows are not grouped again).
-- Read from base_gbfs__vehicles' staged rows (reject_reason null: what stg_gbfs__vehicles
-- keeps; its vehicle-type columns are not needed here). The snapshot's time, 15-minute
-- bucket and hour (as int_gbfs__snapshots has them) are on each row: a stale snapshot has
-- no staged vehicle (base rejects them all), so every row here belongs to a fresh one,
-- and gbfs_availability sums the cells of a bucket along the covering index on
-- (system_id, bucket_start_utc, cell): in index order, without a temporary table.
with

vehicles as (
    select
        vehicles.landing_id,
        vehicles.system_id,
        vehicles.snapshot_at_utc,
        vehicles.latitude,
        vehicles.longitude,
        vehicles.is_reserved,
        vehicles.is_disabled,
        vehicles.loaded_at,
        -- the city's latitude by a scalar subquery, not a join: a join made MariaDB write every
        -- vehicle to a temporary table before grouping (and join the seeds, which have no
        -- index, block-nested-loop); it caches the subquery's result per system_id.
        -- max(): one value even if the seeds held a system twice (their unique tests say no).
        (
            select max(cities.latitude)
            from {{ ref('gbfs_systems') }} as systems
            inner join {{ ref('tracked_cities') }} as cities
                on systems.city_name = cities.city_name
            where systems.system_id = vehicles.system_id
        ) as city_latitude
    -- incremental: the rows loaded since the watermark, by their index (force index: the
    -- optimizer took a scan of every vehicle held when the lookback's rows looked many)
    from {{ ref('base_gbfs__vehicles') }} as vehicles {% if is_incremental() -%}
        force index (ix_base_gbfs__vehicles_loaded)  -- noqa: LT02
    {%- endif %}
    where
        vehicles.reject_reason is null
        {{ gbfs_loaded_since('vehicles.loaded_at') }}  -- noqa: LT02
        {{ gbfs_new_landing_rows('vehicles.landing_id') }}  -- noqa: LT02
)

-- SQL_BIG_RESULT: group by sorting (a cell snapshot per few vehicles: the groups are
-- nearly as many as the rows), not through a temporary table keyed by the group, which
-- outgrows tmp_table_size and goes to disk; the system is the snapshot's (max: one value)
select sql_big_result
    landing_id,
    max(system_id) as system_id,
    {{ gbfs_cell_row('latitude') }} as cell_row,
    {{ gbfs_cell_col('longitude', 'city_latitude') }} as cell_col,
    cast(count(*) as signed) as vehicles,
    cast(sum(case when coalesce(is_reserved, 0) = 0 and coalesce(is_disabled, 0) = 0 then 1 else 0 end) as signed)
        as vehicles_available,
    cast(sum(coalesce(is_reserved, 0)) as signed) as vehicles_reserved,
    cast(sum(coalesce(is_disabled, 0)) as signed) as vehicles_disabled,
    max(loaded_at) as loaded_at,
    min(snapshot_at_utc) as snapshot_at_utc,
    {{ bucket_15m('min(snapshot_at_utc)') }} as bucket_start_utc,
    timestampadd(hour, hour(min(snapshot_at_utc)), cast(date(min(snapshot_at_utc)) as datetime)) as hour_utc
from vehicles
-- the inner join of the seeds: vehicles of a system the seed lacks or of an untracked city are left out
where city_latitude is not null
group by landing_id, cell_row, cell_col
