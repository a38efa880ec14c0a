-- One row per city: every tracked city and every city key seen in landing.
with

city_keys as (
    select * from {{ ref('int_cities__keys') }}
),

tracked as (
    select
        {{ city_id('city_name') }} as city_id,
        {{ as_text('country_code') }} as country_code,
        latitude,
        longitude,
        {{ as_text('timezone') }} as timezone
    from {{ ref('tracked_cities') }}
),

wikipedia as (
    select * from {{ ref('int_wikipedia__latest_city_pages') }}
),

population as (
    select * from {{ ref('int_wikipedia__current_populations') }}
),

forecast_meta as (
    -- the latest successful forecast's country code and request coordinates, for
    -- untracked cities: one landing row per city, by its id
    select
        fetches.city_id,
        {{ json_text('landing.payload', '$.city.country') }} as country_code,
        cast(json_extract(landing.request_params, '$.lat') as decimal(9, 6)) as latitude,
        cast(json_extract(landing.request_params, '$.lon') as decimal(9, 6)) as longitude
    from {{ ref('int_cities__fetches') }} as fetches
    inner join {{ source('gans_raw', 'openweather_forecasts') }} as landing
        on fetches.last_landing_id = landing.id
    where fetches.source_table = 'openweather_forecasts'
),

countries as (
    select
        {{ as_text('country_code') }} as country_code,
        {{ as_text('country_name') }} as country_name
    from {{ ref('countries') }}
)

select
    city_keys.city_id,
    city_keys.city_name,
    cast(coalesce(tracked.latitude, wikipedia.latitude, forecast_meta.latitude) as decimal(9, 6)) as latitude,
    cast(coalesce(tracked.longitude, wikipedia.longitude, forecast_meta.longitude) as decimal(9, 6)) as longitude,
    tracked.timezone,
    city_keys.is_tracked,
    population.population,
    population.population_as_of,
    population.population_as_of_precision,
    population.figure_type as population_figure_type,
    wikipedia.revision_id as wikipedia_revision_id,
    wikipedia.page_url as wikipedia_page_url,
    city_keys.last_fetched_at_utc as updated_at,
    coalesce(tracked.country_code, forecast_meta.country_code) as country_code,
    coalesce(wikipedia.country, countries.country_name) as country
from city_keys
left join tracked on city_keys.city_id = tracked.city_id
left join wikipedia on city_keys.city_id = wikipedia.city_id
left join population on city_keys.city_id = population.city_id
left join forecast_meta on city_keys.city_id = forecast_meta.city_id
left join countries
    on coalesce(tracked.country_code, forecast_meta.country_code) = countries.country_code
