-- Every city known anywhere: the tracked list and every city key in landing.
-- One row per city_id (the id is derived from the name; see macro city_id), with the
-- latest successful (HTTP 200) fetch of any source about the city. Landed keys come
-- from int_cities__fetches (every landing row of the city-keyed sources, whatever
-- the response), so this reads one row per city and source, not the landing tables.
with

names as (
    select
        {{ city_id('city_name') }} as city_id,
        trim({{ as_text('city_name') }}) as city_name,
        1 as is_tracked,
        cast(null as datetime(6)) as fetched_at_utc
    from {{ ref('tracked_cities') }}
    where city_name is not null and trim(city_name) <> ''
    union all
    select
        city_id,
        city_name,
        0 as is_tracked,
        last_fetched_at_utc as fetched_at_utc
    from {{ ref('int_cities__fetches') }}
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
from names
group by city_id
