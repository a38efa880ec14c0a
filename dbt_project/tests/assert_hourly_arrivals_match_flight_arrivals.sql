-- Arrivals counted in city_hourly_conditions equal the operated (non-codeshare)
-- flights in flight_arrivals at the city's airports in that hour.
with

hourly as (
    select
        city_id,
        hour_utc,
        scheduled_arrivals
    from {{ ref('city_hourly_conditions') }}
),

flights as (
    select
        city_airports.city_id,
        cast(date_format(flights.scheduled_arrival_utc, '%Y-%m-%d %H:00:00') as datetime) as hour_utc,
        count(*) as arrivals
    from {{ ref('flight_arrivals') }} as flights
    inner join {{ ref('city_airports') }} as city_airports
        on flights.airport_icao = city_airports.airport_icao
    where flights.codeshare_status is null or flights.codeshare_status <> 'IsCodeshared'
    group by 1, 2
)

select
    hourly.city_id,
    hourly.hour_utc,
    hourly.scheduled_arrivals,
    flights.arrivals
from hourly
left join flights
    on
        hourly.city_id = flights.city_id
        and hourly.hour_utc = flights.hour_utc
where hourly.scheduled_arrivals <> coalesce(flights.arrivals, 0)
