-- One row per landed Wikipedia article of a city (one per fetched revision).
with

landing as (
    select
        id as landing_id,
        {{ json_text('request_key', '$.city') }} as city_name,
        fetched_at as fetched_at_utc,
        loaded_at,
        payload
    from {{ source('gans_raw', 'wikipedia_city_pages') }}
    where http_status = 200
)

select
    landing_id,
    {{ city_id('city_name') }} as city_id,
    city_name,
    fetched_at_utc,
    loaded_at,
    {{ json_text('payload', '$.page_title') }} as page_title,
    {{ json_text('payload', '$.page_url') }} as page_url,
    cast({{ json_text('payload', '$.revision_id') }} as unsigned) as revision_id,
    {{ json_text('payload', '$.country') }} as country,
    cast({{ json_text('payload', '$.latitude') }} as decimal(9, 6)) as latitude,
    cast({{ json_text('payload', '$.longitude') }} as decimal(9, 6)) as longitude,
    cast({{ json_text('payload', '$.parser_version') }} as signed) as parser_version
from landing
