-- Every city known anywhere: the tracked list and every city key in landing.
-- One row per city_id (the id is derived from the name; see macro city_id), with the
-- latest successful (HTTP 200) fetch of any source about the city.
-- Landed keys come from the request_key of every landing row of the city-keyed
-- sources, whatever the response: the staging views drop rows (non-200 statuses,
-- searches with no airports, figures without a value) and must not drop cities.
with

names as (
    select
        {{ as_text('city_name') }} as city_name,
        1 as is_tracked,
        cast(null as datetime(6)) as fetched_at_utc
    from {{ ref('tracked_cities') }}
    {%- for table in ['openweather_forecasts', 'aerodatabox_airports', 'wikipedia_city_pages'] %}
        union all
        select
            {{ json_text('request_key', '$.city') }} as city_name,
            0 as is_tracked,
            case when http_status = 200 then fetched_at end as fetched_at_utc
        from {{ source('gans_raw', table) }}
    {%- endfor %}
),

keyed as (
    select
        {{ city_id('city_name') }} as city_id,
        is_tracked,
        fetched_at_utc,
        trim(city_name) as city_name
    from names
    where city_name is not null and trim(city_name) <> ''
)

select
    city_id,
    -- the tracked list's spelling first, else the alphabetically first one seen
    coalesce(
        min(case when is_tracked = 1 then city_name end),
        min(city_name)
    ) as city_name,
    max(is_tracked) as is_tracked,
    max(fetched_at_utc) as last_fetched_at_utc
from keyed
group by city_id
