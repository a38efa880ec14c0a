{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['city_id', 'hour_utc'],
        post_hook=[
            "{{ ensure_index('ix_city_hourly_conditions_hour', 'city_id, hour_utc') }}",
            "{{ ensure_index('ix_city_hourly_conditions_loaded', 'source_loaded_at') }}",
        ],
    )
}}
-- The demand model's feature table: one row per city and UTC hour over the forecast
-- horizon. Each 3-hour forecast slot is in force from its own time until the next
-- slot (at most 3 hours); arrivals are the flights scheduled in that hour at the
-- city's airports, codeshare duplicates not counted.
-- Incremental: recomputes, per city, only the hours from 3 hours before to 3 hours
-- after the forecast slots, flights and board spans loaded since the newest
-- source_loaded_at held (minus the lookback); every other hour keeps its row.
with

{% if is_incremental() -%}
watermark as (
    select
        timestampadd(
            hour, -{{ var('incremental_lookback_hours') }},
            coalesce(max(source_loaded_at), cast('1970-01-01 00:00:00' as datetime))
        ) as loaded_after
    from {{ this }}
),

changed as (
    -- instants whose hours may change: new forecast slots, new flight rows, new boards' spans
    select
        city_id,
        forecast_at_utc as at_utc
    from {{ ref('weather_forecasts') }}
    where landing_loaded_at > (select loaded_after from watermark)
    union all
    select
        city_airports.city_id,
        flights.scheduled_arrival_utc as at_utc
    from {{ ref('flight_arrivals') }} as flights
    inner join {{ ref('city_airports') }} as city_airports
        on flights.airport_icao = city_airports.airport_icao
    where flights.landing_loaded_at > (select loaded_after from watermark)
    union all
    select
        city_airports.city_id,
        boards.first_arrival_utc as at_utc
    from {{ ref('int_aerodatabox__flight_boards') }} as boards
    inner join {{ ref('city_airports') }} as city_airports
        on boards.airport_icao = city_airports.airport_icao
    where boards.landing_loaded_at > (select loaded_after from watermark)
    union all
    select
        city_airports.city_id,
        boards.last_arrival_utc as at_utc
    from {{ ref('int_aerodatabox__flight_boards') }} as boards
    inner join {{ ref('city_airports') }} as city_airports
        on boards.airport_icao = city_airports.airport_icao
    where boards.landing_loaded_at > (select loaded_after from watermark)
),

spans as (
    -- per city, the hours to recompute: [from_utc, to_utc]
    select
        city_id,
        timestampadd(hour, -3, cast(date_format(min(at_utc), '%Y-%m-%d %H:00:00') as datetime)) as from_utc,
        timestampadd(hour, 3, max(at_utc)) as to_utc
    from changed
    where at_utc is not null
    group by city_id
),

{% endif -%}
slots as (
    select
        forecasts.*,
        {%- if is_incremental() %}
        spans.from_utc,
        spans.to_utc,
        {%- endif %}
        lead(forecasts.forecast_at_utc) over (
            partition by forecasts.city_id order by forecasts.forecast_at_utc
        ) as next_forecast_at_utc
    from {{ ref('weather_forecasts') }} as forecasts
    {%- if is_incremental() %}
    -- a slot covers at most the 3 hours after it: slots 3 hours either side suffice
    inner join spans
        on
            forecasts.city_id = spans.city_id
            and forecasts.forecast_at_utc >= timestampadd(hour, -3, spans.from_utc)
            and forecasts.forecast_at_utc <= timestampadd(hour, 3, spans.to_utc)
    -- the same bound for all cities, so the index on forecast_at_utc skips history
    where forecasts.forecast_at_utc >= (select timestampadd(hour, -3, min(spans.from_utc)) from spans)
    {%- endif %}
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
        {{ "and timestampadd(hour, hour_offsets.hour_offset, slots.forecast_at_utc)"
            ~ " between slots.from_utc and slots.to_utc" if is_incremental() }}  -- noqa: LT02
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
    {%- if is_incremental() %}
    inner join spans
        on
            city_airports.city_id = spans.city_id
            and flights.scheduled_arrival_utc >= spans.from_utc
            and flights.scheduled_arrival_utc < timestampadd(hour, 1, spans.to_utc)
    {%- endif %}
    where
        (flights.codeshare_status is null or flights.codeshare_status <> 'IsCodeshared')
        {{ "and flights.scheduled_arrival_utc >= (select min(spans.from_utc) from spans)"
            if is_incremental() }}  -- noqa: LT02
    group by city_airports.city_id, hour_utc
),

boards as (
    -- the UTC span of each fetched arrivals board, per city
    select
        city_airports.city_id,
        flight_boards.first_arrival_utc,
        flight_boards.last_arrival_utc
    from {{ ref('int_aerodatabox__flight_boards') }} as flight_boards
    inner join {{ ref('city_airports') }} as city_airports
        on flight_boards.airport_icao = city_airports.airport_icao
    {%- if is_incremental() %}
    inner join spans
        on
            city_airports.city_id = spans.city_id
            and flight_boards.last_arrival_utc >= spans.from_utc
            and flight_boards.first_arrival_utc <= timestampadd(hour, 1, spans.to_utc)
    {%- endif %}
),

covered as (
    -- the hours a fetched board spans (a join, not a correlated EXISTS: MariaDB would
    -- evaluate the boards CTE again for every hour)
    select distinct
        hours.city_id,
        hours.hour_utc
    from hours
    inner join boards
        on
            hours.city_id = boards.city_id
            and hours.hour_utc >= cast(date_format(boards.first_arrival_utc, '%Y-%m-%d %H:00:00') as datetime)
            and hours.hour_utc <= boards.last_arrival_utc
),

loaded as (
    -- the newest landing row among the inputs: the high-water mark stored with each row
    select max(loaded_at) as source_loaded_at
    from (
        select max(landing_loaded_at) as loaded_at from {{ ref('weather_forecasts') }}
        union all
        select max(landing_loaded_at) as loaded_at from {{ ref('flight_arrivals') }}
        union all
        select max(landing_loaded_at) as loaded_at from {{ ref('int_aerodatabox__flight_boards') }}
    ) as newest
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
    case when covered.city_id is not null then 1 else 0 end as has_flight_board,
    (select loaded.source_loaded_at from loaded) as source_loaded_at
from hours
left join arrivals
    on
        hours.city_id = arrivals.city_id
        and hours.hour_utc = arrivals.hour_utc
left join covered
    on
        hours.city_id = covered.city_id
        and hours.hour_utc = covered.hour_utc
