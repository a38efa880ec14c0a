{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='landing_id',
        post_hook=[
            "{{ ensure_index('ix_stg_wikipedia__city_pages_landing', 'landing_id') }}",
            "{{ ensure_index('ix_stg_wikipedia__city_pages_loaded', 'loaded_at') }}",
        ],
    )
}}
-- One row per landed Wikipedia article of a city (one per fetched revision).
-- A table, incremental: each landing row's payload is read once (macro new_landing_rows),
-- like the base models; the payload is the few fields the extractor parsed from the article.
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        fetched_at as fetched_at_utc,
        loaded_at,
        {{ json_number(json_text('payload', '$.revision_id')) }} as revision_id_value,
        {{ json_number(json_text('payload', '$.latitude')) }} as latitude_value,
        {{ json_number(json_text('payload', '$.longitude')) }} as longitude_value,
        {{ json_number(json_text('payload', '$.parser_version')) }} as parser_version_value,
        payload
    from {{ source('gans_raw', 'wikipedia_city_pages') }}
    where
        http_status = 200
        {{ new_landing_rows() }}  -- noqa: LT02
)

select
    landing_id,
    {{ city_id('city_name') }} as city_id,
    city_name,
    fetched_at_utc,
    loaded_at,
    {{ json_text('payload', '$.page_title') }} as page_title,
    {{ json_text('payload', '$.page_url') }} as page_url,
    -- defensive: a value that is no number, or off its range, is NULL (never a failed model)
    case when revision_id_value between 0 and 1e18 then cast(revision_id_value as unsigned) end as revision_id,
    {{ json_text('payload', '$.country') }} as country,
    case when latitude_value between -90 and 90 then cast(latitude_value as decimal(9, 6)) end as latitude,
    case when longitude_value between -180 and 180 then cast(longitude_value as decimal(9, 6)) end as longitude,
    case when parser_version_value between 0 and 1e9 then cast(parser_version_value as signed) end as parser_version
from landing
