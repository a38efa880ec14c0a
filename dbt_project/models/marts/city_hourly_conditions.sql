-- The demand model's feature table: one row per city and UTC hour over the forecast
-- horizon. Each 3-hour forecast slot is in force from its own time until the next
-- slot (at most 3 hours); arrivals are the flights scheduled in that hour at the
-- city's airports, codeshare duplicates not counted.
with

slots as (
    select
        *,
        lead(forecast_at_utc) over (partition by city_id order by forecast_at_utc) as next_forecast_at_utc
    from {{ ref('weather_forecasts') }}
),

hour_offsets as (
    select 0 as hour_offset
    union all
    select 1 as hour_offset
    union all
    select 2 as hour_offset
),

hours as (
    select
        slots.*,
        timestampadd(hour, hour_offsets.hour_offset, slots.forecast_at_utc) as hour_utc
    from slots
    cross join hour_offsets
    where
        timestampadd(hour, hour_offsets.hour_offset, slots.forecast_at_utc)
        < coalesce(slots.next_forecast_at_utc, timestampadd(hour, 3, slots.forecast_at_utc))
),

arrivals as (
    select
        city_airports.city_id,
        cast(date_format(flights.scheduled_arrival_utc, '%Y-%m-%d %H:00:00') as datetime) as hour_utc,
        cast(count(*) as signed) as scheduled_arrivals,
        cast(sum(case when flights.is_cargo = 0 then 1 else 0 end) as signed) as scheduled_passenger_arrivals,
        cast(sum(case when flights.status like 'Cancel%' then 1 else 0 end) as signed) as cancelled_arrivals
    from {{ ref('flight_arrivals') }} as flights
    inner join {{ ref('city_airports') }} as city_airports
        on flights.airport_icao = city_airports.airport_icao
    where flights.codeshare_status is null or flights.codeshare_status <> 'IsCodeshared'
    group by city_airports.city_id, hour_utc
),

boards as (
    -- the UTC span of each fetched arrivals board, per city
    select
        city_airports.city_id,
        min(flights.scheduled_arrival_utc) as first_arrival_utc,
        max(flights.scheduled_arrival_utc) as last_arrival_utc
    from {{ ref('stg_aerodatabox__flights') }} as flights
    inner join {{ ref('city_airports') }} as city_airports
        on flights.airport_icao = city_airports.airport_icao
    group by city_airports.city_id, flights.landing_id
)

select
    hours.city_id,
    hours.hour_utc,
    hours.forecast_at_utc,
    hours.fetched_at_utc as forecast_fetched_at_utc,
    hours.temperature_c,
    hours.feels_like_c,
    hours.humidity_pct,
    hours.wind_speed_m_s,
    hours.wind_gust_m_s,
    hours.precipitation_probability,
    cast(round(hours.rain_3h_mm / 3, 2) as decimal(7, 2)) as rain_mm_per_h,
    cast(round(hours.snow_3h_mm / 3, 2) as decimal(7, 2)) as snow_mm_per_h,
    hours.cloudiness_pct,
    hours.visibility_m,
    hours.`condition`,
    hours.condition_description,
    coalesce(arrivals.scheduled_arrivals, 0) as scheduled_arrivals,
    coalesce(arrivals.scheduled_passenger_arrivals, 0) as scheduled_passenger_arrivals,
    coalesce(arrivals.cancelled_arrivals, 0) as cancelled_arrivals,
    case
        when exists (
            select 1 from boards
            where
                boards.city_id = hours.city_id
                and hours.hour_utc >= cast(date_format(boards.first_arrival_utc, '%Y-%m-%d %H:00:00') as datetime)
                and hours.hour_utc <= boards.last_arrival_utc
        ) then 1 else 0
    end as has_flight_board
from hours
left join arrivals
    on
        hours.city_id = arrivals.city_id
        and hours.hour_utc = arrivals.hour_utc
