{{
    config(
        post_hook=[
            "{{ ensure_index('ix_base_gbfs__station_information_system', 'system_id, station_index, landing_id') }}",
            "{{ ensure_index('ix_base_gbfs__station_information_station', 'landing_id, station_id(100)') }}",
            "{{ gbfs_retention_delete() }}",
        ],
    )
}}
-- noqa: disable=LT02,LT05
-- (indexes: per document and station, int_gbfs__station_changes looks up each changed
-- station's position; per system and first station, it finds the system's documents)
-- Every station of every GBFS station_information document (HTTP 200, `data.stations`),
-- staged or not (reject_reason, NULL when it can be staged): where a docked system's
-- stations are (their status does not say), their name and capacity. Parsed once,
-- incremental like base_gbfs__vehicles; rows kept var gbfs_retention_days after loading
-- (positions are read for the new station_status snapshots only, which are recent).
{%- set checks = [
    ["station_id is null or station_id = ''", 'station id missing'],
    ['char_length(station_id) > 200', 'station id longer than 200 characters'],
    ['lat_text is null or lon_text is null', 'lat/lon missing'],
    ['lat_text is not null and lat_value is null', 'lat not a number'],
    ['lon_text is not null and lon_value is null', 'lon not a number'],
    ['lat_value not between -90 and 90 or lon_value not between -180 and 180', 'lat/lon out of range'],
    ['lat_value = 0 and lon_value = 0', 'lat/lon null island (0, 0)'],
    ['capacity_text is not null and capacity_value is null', 'capacity not a number'],
    ['capacity_value <> floor(capacity_value) or capacity_value not between 0 and 100000', 'capacity not a count'],
] %}
with

stations as (
    select
        feeds.id as landing_id,
        feeds.system_id,
        feeds.fetched_at as fetched_at_utc,
        feeds.loaded_at,
        s.station_index,
        s.station_id,
        s.station_name,
        s.capacity_text,
        trim(s.lat_text) as lat_text,
        trim(s.lon_text) as lon_text
    -- JSON_TABLE over the landing table's own column (MySQL error 1210 otherwise)
    from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
    cross join json_table(
        feeds.payload, '$.data.stations[*]' columns (
            station_index for ordinality,
            -- v3.0: name is a list of localized texts; v2.x a plain string
            {{ json_text_columns('station_id, name as station_name, lat as lat_text, lon as lon_text, capacity as capacity_text') }}
        )
    ) as s
    where {{ gbfs_new_documents(['station_information']) }}
),

as_values as (
    select
        *,
        {{ base_values(numbers='lat_text as lat_value, lon_text as lon_value, capacity_text as capacity_value') }},
        {{ keep_materialised('values_row') }}
    from stations
),

{{ base_checked('as_values', checks) }}

select
    {{ base_record_columns(['station_index'], "'$.data.stations'", as_text('system_id') ~ ' as system_id') }},
    {{ staged(as_text('station_id')) }} as station_id,
    case when reject_reason is null and station_name not like '[%' then {{ as_text('left(station_name, 200)') }} end as station_name,
    {{ base_columns('staged', 'cast(lat_value as decimal(10, 7)) as latitude, cast(lon_value as decimal(10, 7)) as longitude,
        cast(capacity_value as signed) as capacity') }}
from checked
