{{
    config(
        unique_key=['system_id', 'bucket_start_utc', 'cell_row', 'cell_col'],
        post_hook=[
            "{{ ensure_index('ix_gbfs_availability_city_time', 'city_id, bucket_start_utc') }}",
        ],
    )
}}
-- noqa: disable=LT02,LT05,RF04
-- (RF04: sqlfluff reads the STRAIGHT_JOIN select option as a column)
-- Competitors' supply: vehicles per city x operator x grid cell x 15-minute bucket (UTC),
-- averaged over the fresh snapshots of the system in the bucket (a cell absent from a
-- snapshot counts 0 in it). Incremental: the buckets touched by snapshots loaded since
-- the newest held are recomputed from the intermediate models, never from landing, so
-- rows outlive the raw snapshots' retention. A --full-refresh rebuilds only what landing
-- still holds (the last GANS_GBFS_RETENTION_DAYS days): older rows would be lost.
-- The cells of a bucket are summed from int_gbfs__cell_snapshots' own bucket column (it holds
-- fresh snapshots only) in one grouped select whose first table is that model, read along
-- its covering index on (system_id, bucket_start_utc, cell): rows come in group order and
-- MariaDB groups them without a temporary table (as a grouped derived table joined to the
-- rest it materialised every cell of history into an indexed temporary table: 60 s of a
-- 1-day, 20-system build against 10 s now). SELECT STRAIGHT_JOIN (joins in the order
-- written) keeps that table first; the columns of the joined one-row-per-group tables are taken with max() (one value per
-- group), which MySQL's ONLY_FULL_GROUP_BY accepts. Incremental runs start from the
-- buckets touched since the watermark (a constant: macro gbfs_loaded_since) instead.
with

{%- if is_incremental() %}

changed as (
    {{ gbfs_changed_keys('bucket_start_utc') }}
),
{%- endif %}

per_bucket as (
    select
        snapshots.system_id,
        snapshots.bucket_start_utc,
        count(*) as snapshots,
        max(snapshots.loaded_at) as loaded_at
    from {{ ref('int_gbfs__snapshots') }} as snapshots
    {%- if is_incremental() %}
    inner join changed
        on
            snapshots.system_id = changed.system_id
            and snapshots.bucket_start_utc = changed.bucket_start_utc
    {%- endif %}
    where snapshots.is_stale = 0
    group by snapshots.system_id, snapshots.bucket_start_utc
),

-- one row per system (distinct: materialised, so the city key is hashed once per system)
systems as (
    select distinct
        systems.system_id,
        systems.city_name,
        systems.operator,
        cities.latitude as city_latitude,
        {{ city_id('systems.city_name') }} as city_id
    from {{ ref('gbfs_systems') }} as systems
    inner join {{ ref('tracked_cities') }} as cities
        on systems.city_name = cities.city_name
)

select straight_join
    {{ gbfs_cell_group_columns('cells', 'bucket_start_utc') }},
    -- the cell's centre, decimal degrees, computed in DOUBLE (0.5e0): in DECIMAL, MySQL's division keeps
    -- div_precision_increment (4) digits past the dividend's scale, 53.43043 where MariaDB gives 53.4304258
    cast((cells.cell_row + 0.5e0) * {{ var('gbfs_cell_size_m') }} / 111320 as decimal(10, 7)) as cell_latitude,
    cast(
        (cells.cell_col + 0.5) * {{ var('gbfs_cell_size_m') }} / (111320 * cos(radians(max(systems.city_latitude))))
        as decimal(10, 7)
    ) as cell_longitude,
    max(per_bucket.snapshots) as snapshots,
    cast(sum(cells.vehicles) / max(per_bucket.snapshots) as decimal(10, 2)) as vehicles_avg,
    cast(sum(cells.vehicles_available) / max(per_bucket.snapshots) as decimal(10, 2)) as vehicles_available_avg,
    cast(sum(cells.vehicles_disabled) / max(per_bucket.snapshots) as decimal(10, 2)) as vehicles_disabled_avg,
    max(per_bucket.loaded_at) as loaded_at
{%- if is_incremental() %}
from changed
inner join {{ ref('int_gbfs__cell_snapshots') }} as cells
    on
        changed.system_id = cells.system_id
        and changed.bucket_start_utc = cells.bucket_start_utc
{%- else %}
from {{ ref('int_gbfs__cell_snapshots') }} as cells
{%- endif %}
{{ gbfs_cell_group_tail('cells', 'per_bucket', 'bucket_start_utc') }}
