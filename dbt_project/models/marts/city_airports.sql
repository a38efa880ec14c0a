-- Which airports serve which city: the airports of each city's latest airport search,
-- with the great-circle distance from the city's coordinates.
select
    searches.city_id,
    searches.airport_icao,
    cast(
        round({{ haversine_km('cities.latitude', 'cities.longitude', 'searches.latitude', 'searches.longitude') }}, 1)
        as decimal(7, 1)
    ) as distance_km,
    searches.search_rank,
    searches.fetched_at_utc
from {{ ref('int_aerodatabox__latest_airport_searches') }} as searches
inner join {{ ref('cities') }} as cities on searches.city_id = cities.city_id
