{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_base_gbfs__vehicles_landing', 'landing_id, vehicle_index') }}",
            "{{ ensure_index('ix_base_gbfs__vehicles_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_base_gbfs__vehicles_rejects', 'reject_reason(100)') }}",
            "delete from {{ this }} where loaded_at < (select cutoff from (select timestampadd(day, -{{ var('gbfs_retention_days') }}, max(loaded_at)) as cutoff from {{ this }}) as newest)",
        ],
    )
}}
-- noqa: disable=LT02,LT05
-- (index on reject_reason: landing_rejects and reconciliation read the few rejects, not every vehicle)
-- Every vehicle of every GBFS vehicle snapshot (HTTP 200): free_bike_status v1.x/v2.x
-- `data.bikes`, vehicle_status v3.x `data.vehicles`), staged or not: values converted
-- defensively (NULL instead of an error) and reject_reason saying why a vehicle cannot
-- be staged (NULL when it can). stg_gbfs__vehicles keeps the vehicles without a reason,
-- landing_rejects the others.
-- A table, incremental, and each landing row parsed once, ever: a Berlin-sized snapshot
-- is 1-3 MB of JSON, which JSON_TABLE inside a view re-parsed for every model and test
-- reading it. Only landing rows loaded since the newest held (minus the lookback) and
-- not held yet are read. Rows are kept var gbfs_retention_days after loading (the raw
-- snapshots' retention); the marts built from them keep theirs for ever.
-- Vehicle ids as published: GBFS 2.x+ rotates them after each trip (privacy), so they
-- identify a vehicle within one snapshot only.
{%- set lists = [['free_bike_status', 'bikes'], ['vehicle_status', 'vehicles']] %}
{%- set checks = [
    ['vehicle_id is null or vehicle_id = \'\'', 'vehicle id missing'],
    ['lat_text is null or lon_text is null', 'lat/lon missing'],
    ['lat_text is not null and lat_value is null', 'lat not a number'],
    ['lon_text is not null and lon_value is null', 'lon not a number'],
    ['lat_value not between -90 and 90 or lon_value not between -180 and 180', 'lat/lon out of range'],
    ['lat_value = 0 and lon_value = 0', 'lat/lon null island (0, 0)'],
    ['char_length(vehicle_id) > 200', 'vehicle id longer than 200 characters'],
    ['char_length(vehicle_type_id) > 200', 'vehicle_type_id longer than 200 characters'],
    ['reserved_text is not null and reserved_flag is null', 'is_reserved not a boolean'],
    ['disabled_text is not null and disabled_flag is null', 'is_disabled not a boolean'],
    ['fuel_text is not null and fuel_value is null', 'current_fuel_percent not a number'],
    ['fuel_value not between 0 and 1', 'current_fuel_percent out of range'],
    ['range_text is not null and range_value is null', 'current_range_meters not a number'],
    ['range_value not between 0 and 10000000', 'current_range_meters out of range'],
    ['last_reported_text is not null and last_reported_at is null', 'last_reported not a time'],
    ['snapshot_at is null', 'snapshot last_updated missing or not a time'],
    ['fetched_at_utc > timestampadd(second, coalesce(ttl_s, 0) + ' ~ var('gbfs_stale_grace_seconds') ~ ', snapshot_at)', 'stale snapshot (older than its ttl when fetched)'],
] %}
with

vehicles as (
    {%- for feed, list_name in lists %}
    {{ 'union all' if not loop.first }}
    select
        parsed.*,
        {{ reject_reason(checks) }} as reject_reason
    -- the checks over a merged derived table, in the branch: the union stores each row's
    -- values and reason once (a materialised step of their own cost a fifth of the model)
    from (
        select
            feeds.id as landing_id,
            feeds.system_id,
            feeds.feed,
            doc.gbfs_version,
            feeds.fetched_at as fetched_at_utc,
            feeds.loaded_at,
            feeds.ttl_s,
            doc.last_updated_text,
            '{{ list_name }}' as list_name,
            v.vehicle_index,
            coalesce(v.vehicle_id, v.bike_id) as vehicle_id,
            v.vehicle_type_id,
            v.vehicle_type_v1,
            trim(v.lat_text) as lat_text,
            trim(v.lon_text) as lon_text,
            v.reserved_text,
            v.disabled_text,
            v.fuel_text,
            v.range_text,
            v.last_reported_text,
            -- converted here, in the branches of the union: a union is materialised (computed
            -- once per row) anyway, so the values need no materialised step of their own (the
            -- checks above read this select merged, and convert a value again where they use
            -- it: cheaper than one more temporary table of every vehicle)
            {{ json_number('trim(v.lat_text)') }} as lat_value,
            {{ json_number('trim(v.lon_text)') }} as lon_value,
            {{ json_number('v.fuel_text') }} as fuel_value,
            {{ json_number('v.range_text') }} as range_value,
            {{ gbfs_flag('v.reserved_text') }} as reserved_flag,
            {{ gbfs_flag('v.disabled_text') }} as disabled_flag,
            {{ gbfs_instant_utc('doc.last_updated_text') }} as snapshot_at,
            {{ gbfs_instant_utc('v.last_reported_text') }} as last_reported_at
        -- JSON_TABLE over the landing table's own column: MySQL refuses it over a column of
        -- a CTE or derived table (error 1210), MariaDB accepts both
        from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
        -- every value as text, converted above: coordinates may be JSON strings (Lime 1.0),
        -- flags JSON booleans or 0/1, times POSIX seconds or RFC 3339 (v3); JSON_TABLE's own
        -- conversions differ between MariaDB and MySQL 8. The snapshot's own fields come from
        -- a JSON_TABLE of their own: MariaDB keeps JSON as text, and a json_extract on the
        -- payload merged into the per-vehicle select (or a NESTED PATH's parent columns)
        -- rescanned the megabytes of the snapshot for every vehicle
        cross join json_table(
            feeds.payload, '$' columns (
                last_updated_text text path '$.last_updated' null on error,
                gbfs_version text path '$.version' null on error
            )
        ) as doc
        cross join json_table(
            feeds.payload, '$.data.{{ list_name }}[*]' columns (
                vehicle_index for ordinality,
                vehicle_id text path '$.vehicle_id' null on error,
                bike_id text path '$.bike_id' null on error,
                vehicle_type_id text path '$.vehicle_type_id' null on error,
                vehicle_type_v1 text path '$.vehicle_type' null on error,
                lat_text text path '$.lat' null on error,
                lon_text text path '$.lon' null on error,
                reserved_text text path '$.is_reserved' null on error,
                disabled_text text path '$.is_disabled' null on error,
                fuel_text text path '$.current_fuel_percent' null on error,
                range_text text path '$.current_range_meters' null on error,
                last_reported_text text path '$.last_reported' null on error
            )
        ) as v
        where
            feeds.http_status = 200
            and feeds.feed = '{{ feed }}'
            {{ gbfs_loaded_since('feeds.loaded_at') }}
            {{ gbfs_new_landing_rows('feeds.id') }}
    ) as parsed
    {%- endfor %}
)

select
    landing_id,
    -- ordinal within the snapshot's list (bikes or vehicles: a snapshot has one)
    vehicle_index,
    concat('$.data.', list_name, '[', vehicle_index - 1, ']') as record_path,
    reject_reason,
    {{ as_text('system_id') }} as system_id,
    {{ as_text('feed') }} as feed,
    {{ as_text('gbfs_version') }} as gbfs_version,
    fetched_at_utc,
    -- cast: MySQL gives a NOT NULL default-current_timestamp column through a CTE a zero
    -- default its CREATE TABLE ... AS refuses (1067)
    cast(loaded_at as datetime(6)) as loaded_at,
    ttl_s,
    snapshot_at as snapshot_at_utc,
    -- every conversion below is guarded by reject_reason: a rejected vehicle's values are
    -- NULL, never an out-of-range cast
    case when reject_reason is null then {{ as_text('vehicle_id') }} end as vehicle_id,
    case when reject_reason is null then {{ as_text('vehicle_type_id') }} end as vehicle_type_id,
    case when reject_reason is null then {{ as_text('left(vehicle_type_v1, 50)') }} end as vehicle_type_v1,
    case when reject_reason is null then cast(lat_value as decimal(10, 7)) end as latitude,
    case when reject_reason is null then cast(lon_value as decimal(10, 7)) end as longitude,
    case when reject_reason is null then reserved_flag end as is_reserved,
    case when reject_reason is null then disabled_flag end as is_disabled,
    case when reject_reason is null then cast(fuel_value as decimal(5, 4)) end as fuel_fraction,
    case when reject_reason is null then cast(range_value as decimal(12, 2)) end as current_range_m,
    case when reject_reason is null then last_reported_at end as last_reported_utc
from vehicles
