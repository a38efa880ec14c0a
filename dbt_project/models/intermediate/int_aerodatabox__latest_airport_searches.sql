-- The airports found by the latest airport search of each city (an airport missing
-- from the latest search no longer serves the city).
with

searches as (
    select
        city_id,
        landing_id,
        row_number() over (
            partition by city_id order by fetched_at_utc desc, landing_id desc
        ) as recency_rank
    from (
        select distinct
            city_id,
            landing_id,
            fetched_at_utc
        from {{ ref('stg_aerodatabox__airports') }}
    ) as landed
)

select
    airports.city_id,
    airports.airport_icao,
    airports.search_rank,
    airports.latitude,
    airports.longitude,
    airports.fetched_at_utc
from {{ ref('stg_aerodatabox__airports') }} as airports
inner join searches
    on
        airports.landing_id = searches.landing_id
        and airports.city_id = searches.city_id
where searches.recency_rank = 1
