{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['system_id', 'bucket_start_utc', 'cell_row', 'cell_col'],
        post_hook=[
            "{{ ensure_index('ix_gbfs_availability_key', 'system_id, bucket_start_utc, cell_row, cell_col') }}",
            "{{ ensure_index('ix_gbfs_availability_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_gbfs_availability_city_time', 'city_id, bucket_start_utc') }}",
        ],
    )
}}
-- Competitors' supply: vehicles per city x operator x grid cell x 15-minute bucket (UTC),
-- averaged over the fresh snapshots of the system in the bucket (a cell absent from a
-- snapshot counts 0 in it). Incremental: the buckets touched by snapshots loaded since
-- the newest held are recomputed from the intermediate models, never from landing, so
-- rows outlive the raw snapshots' retention. A --full-refresh rebuilds only what landing
-- still holds (the last GANS_GBFS_RETENTION_DAYS days): older rows would be lost.
with

changed as (
    select distinct
        system_id,
        bucket_start_utc
    from {{ ref('int_gbfs__snapshots') }}
    where is_stale = 0
    {%- if is_incremental() %}
        and loaded_at > (
            select timestampadd(
                hour, -{{ var('incremental_lookback_hours') }},
                coalesce(max(loaded_at), cast('1970-01-01 00:00:00' as datetime))
            )
            from {{ this }}
        )
    {%- endif %}
),

snapshots as (
    select snapshots.*
    from {{ ref('int_gbfs__snapshots') }} as snapshots
    inner join changed
        on
            snapshots.system_id = changed.system_id
            and snapshots.bucket_start_utc = changed.bucket_start_utc
    where snapshots.is_stale = 0
),

per_bucket as (
    select
        system_id,
        bucket_start_utc,
        count(*) as snapshots,
        max(loaded_at) as loaded_at
    from snapshots
    group by system_id, bucket_start_utc
),

cells as (
    select
        snapshots.system_id,
        snapshots.bucket_start_utc,
        cells.cell_row,
        cells.cell_col,
        sum(cells.vehicles) as vehicles,
        sum(cells.vehicles_available) as vehicles_available,
        sum(cells.vehicles_disabled) as vehicles_disabled
    from snapshots
    inner join {{ ref('int_gbfs__cell_snapshots') }} as cells
        on snapshots.landing_id = cells.landing_id
    group by snapshots.system_id, snapshots.bucket_start_utc, cells.cell_row, cells.cell_col
)

select
    {{ city_id('systems.city_name') }} as city_id,
    systems.city_name,
    systems.operator,
    cells.system_id,
    cells.bucket_start_utc,
    cells.cell_row,
    cells.cell_col,
    -- the cell's centre, decimal degrees
    cast((cells.cell_row + 0.5) * {{ var('gbfs_cell_size_m') }} / 111320 as decimal(10, 7)) as cell_latitude,
    cast(
        (cells.cell_col + 0.5) * {{ var('gbfs_cell_size_m') }} / (111320 * cos(radians(cities.latitude)))
        as decimal(10, 7)
    ) as cell_longitude,
    per_bucket.snapshots,
    cast(cells.vehicles / per_bucket.snapshots as decimal(10, 2)) as vehicles_avg,
    cast(cells.vehicles_available / per_bucket.snapshots as decimal(10, 2)) as vehicles_available_avg,
    cast(cells.vehicles_disabled / per_bucket.snapshots as decimal(10, 2)) as vehicles_disabled_avg,
    per_bucket.loaded_at
from cells
inner join per_bucket
    on
        cells.system_id = per_bucket.system_id
        and cells.bucket_start_utc = per_bucket.bucket_start_utc
inner join {{ ref('gbfs_systems') }} as systems
    on cells.system_id = systems.system_id
inner join {{ ref('tracked_cities') }} as cities
    on systems.city_name = cities.city_name
