{{ config(post_hook=["{{ gbfs_retention_delete() }}"]) }}
-- noqa: disable=LT02,LT05
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
] + gbfs_snapshot_checks() %}
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
            {{ base_values(
                numbers='trim(v.lat_text) as lat_value, trim(v.lon_text) as lon_value, v.fuel_text as fuel_value,
                    v.range_text as range_value',
                flags='v.reserved_text as reserved_flag, v.disabled_text as disabled_flag',
                instants='doc.last_updated_text as snapshot_at, v.last_reported_text as last_reported_at',
            ) }}
        -- JSON_TABLE over the landing table's own column: MySQL refuses it over a column of
        -- a CTE or derived table (error 1210), MariaDB accepts both
        from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
        -- every value as text, converted above: coordinates may be JSON strings (Lime 1.0),
        -- flags JSON booleans or 0/1, times POSIX seconds or RFC 3339 (v3)
        cross join {{ gbfs_document_fields() }}
        cross join json_table(
            feeds.payload, '$.data.{{ list_name }}[*]' columns (
                vehicle_index for ordinality,
                {{ json_text_columns('vehicle_id, bike_id, vehicle_type_id, vehicle_type as vehicle_type_v1,
                    lat as lat_text, lon as lon_text, is_reserved as reserved_text, is_disabled as disabled_text,
                    current_fuel_percent as fuel_text, current_range_meters as range_text,
                    last_reported as last_reported_text') }}
            )
        ) as v
        where {{ gbfs_new_documents([feed]) }}
    ) as parsed
    {%- endfor %}
)

select
    -- ordinal within the snapshot's list (bikes or vehicles: a snapshot has one)
    {{ base_record_columns(['vehicle_index'], "concat('$.data.', list_name)",
        base_columns('text', 'system_id as system_id, feed as feed, gbfs_version as gbfs_version')) }},
    ttl_s,
    snapshot_at as snapshot_at_utc,
    {{ base_columns('staged text', 'vehicle_id as vehicle_id, vehicle_type_id as vehicle_type_id,
        left(vehicle_type_v1, 50) as vehicle_type_v1') }},
    {{ base_columns('staged', 'cast(lat_value as decimal(10, 7)) as latitude, cast(lon_value as decimal(10, 7)) as longitude,
        reserved_flag as is_reserved, disabled_flag as is_disabled, cast(fuel_value as decimal(5, 4)) as fuel_fraction,
        cast(range_value as decimal(12, 2)) as current_range_m, last_reported_at as last_reported_utc') }}
from vehicles
