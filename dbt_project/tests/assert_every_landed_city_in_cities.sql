-- Every city key in landing (and in the tracked list) has a row in cities.
with

landed as (
    select
        city_id,
        city_name
    from {{ ref('stg_openweather__forecasts') }}
    union distinct
    select
        city_id,
        city_name
    from {{ ref('stg_aerodatabox__airports') }}
    union distinct
    select
        city_id,
        city_name
    from {{ ref('stg_wikipedia__city_pages') }}
    union distinct
    select
        {{ city_id('city_name') }} as city_id,
        city_name
    from {{ ref('tracked_cities') }}
)

select
    landed.city_id,
    landed.city_name
from landed
left join {{ ref('cities') }} as cities on landed.city_id = cities.city_id
where cities.city_id is null
