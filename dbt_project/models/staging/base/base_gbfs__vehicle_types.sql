{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_base_gbfs__vehicle_types_landing', 'landing_id') }}",
            "{{ ensure_index('ix_base_gbfs__vehicle_types_loaded', 'loaded_at') }}",
        ],
    )
}}
-- noqa: disable=LT02
-- Every vehicle type of every GBFS vehicle_types document (HTTP 200, `data.vehicle_types`),
-- staged or not, with reject_reason (NULL when it can be staged). Incremental like
-- base_gbfs__vehicles (each document parsed once) and kept for ever: the documents are
-- small, and the latest description of a type must outlive the raw retention.
with

types as (
    select
        feeds.id as landing_id,
        feeds.system_id,
        feeds.fetched_at as fetched_at_utc,
        feeds.loaded_at,
        vt.type_index,
        vt.vehicle_type_id,
        vt.form_factor,
        vt.propulsion_type,
        -- v3.0: name is a list of localized texts ({text, language}); v2.x a plain string
        coalesce(vt.name_v3, vt.name_text) as vehicle_type_name,
        vt.max_range_text,
        {{ json_number('vt.max_range_text') }} as max_range_value
    -- JSON_TABLE over the landing table's own column: MySQL refuses it over a column of
    -- a CTE or derived table (error 1210), MariaDB accepts both
    from {{ source('gans_raw', 'gbfs_feeds') }} as feeds
    cross join json_table(
        feeds.payload, '$.data.vehicle_types[*]' columns (
            type_index for ordinality,
            vehicle_type_id text path '$.vehicle_type_id' null on error,
            form_factor text path '$.form_factor' null on error,
            propulsion_type text path '$.propulsion_type' null on error,
            name_text text path '$.name' null on error,
            name_v3 text path '$.name[0].text' null on error,
            max_range_text text path '$.max_range_meters' null on error
        )
    ) as vt
    where
        feeds.http_status = 200
        and feeds.feed = 'vehicle_types'
        {{ gbfs_loaded_since('feeds.loaded_at') }}
        {{ gbfs_new_landing_rows('feeds.id') }}
),

checked as (
    select
        *,
        {{ reject_reason([
            ["vehicle_type_id is null or vehicle_type_id = ''", 'vehicle_type_id missing'],
            ['char_length(vehicle_type_id) > 200', 'vehicle_type_id longer than 200 characters'],
            ['max_range_text is not null and max_range_value is null', 'max_range_meters not a number'],
            ['max_range_value not between 0 and 10000000', 'max_range_meters out of range'],
        ]) }} as reject_reason
    from types
)

select
    landing_id,
    type_index,
    concat('$.data.vehicle_types[', type_index - 1, ']') as record_path,
    reject_reason,
    {{ as_text('system_id') }} as system_id,
    fetched_at_utc,
    -- cast: MySQL gives a NOT NULL default-current_timestamp column through a window-ranked CTE a zero
    -- default its CREATE TABLE ... AS refuses (1067)
    cast(loaded_at as datetime(6)) as loaded_at,
    case when reject_reason is null then {{ as_text('vehicle_type_id') }} end as vehicle_type_id,
    case when reject_reason is null then {{ as_text('left(form_factor, 50)') }} end as form_factor,
    case when reject_reason is null then {{ as_text('left(propulsion_type, 50)') }} end as propulsion_type,
    case when reject_reason is null then {{ as_text('left(vehicle_type_name, 200)') }} end as vehicle_type_name,
    case when reject_reason is null then cast(max_range_value as decimal(12, 2)) end as max_range_m
from checked
