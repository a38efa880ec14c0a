{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['city_id', 'hour_utc'],
        post_hook=[
            "{{ ensure_index('ix_city_hourly_conditions_hour', 'city_id, hour_utc') }}",
            "{{ ensure_index('ix_city_hourly_conditions_loaded', 'loaded_at') }}",
            "{{ ensure_index('ix_city_hourly_conditions_time', 'hour_utc') }}",
        ],
    )
}}
-- The demand model's feature table: one row per city and UTC hour over the forecast
-- horizon. Each 3-hour forecast slot is in force from its own time until the next
-- slot (at most 3 hours); arrivals are the flights scheduled in that hour at the
-- city's airports, codeshare duplicates not counted.
-- Incremental: recomputes the hours from 3 hours before the earliest to 3 hours
-- after the latest instant touched by the forecast slots, flights and board spans
-- loaded since the newest loaded_at held (minus the lookback), for every
-- city; every other hour keeps its row. The window is found first (macro
-- changed_window) and enters the query as constants, so each input is read
-- through its time index, not scanned.
{%- set window = changed_window([
    [ref('weather_forecasts'), 'forecast_at_utc', 'forecast_at_utc'],
    [ref('flight_arrivals'), 'scheduled_arrival_utc', 'scheduled_arrival_utc'],
    [ref('int_aerodatabox__flight_boards'), 'first_arrival_utc', 'last_arrival_utc'],
]) %}
{%- if window is none %}
    {#- a full build: every hour #}
    {%- set from_utc, to_utc = "cast('1900-01-01 00:00:00' as datetime)", "cast('9000-01-01 00:00:00' as datetime)" %}
{%- elif window.first_utc is none %}
    {#- nothing loaded since the last run: an empty window #}
    {%- set from_utc, to_utc = "cast('1970-01-01 00:00:00' as datetime)", "cast('1970-01-01 00:00:00' as datetime)" %}
{%- else %}
    {%- set from_utc = "timestampadd(hour, -3, cast('" ~ window.first_utc[:13] ~ ":00:00' as datetime))" %}
    {%- set to_utc = "timestampadd(hour, 3, cast('" ~ window.last_utc ~ "' as datetime))" %}
{%- endif %}

with

hour_offsets as (
    select 0 as hour_offset
    union all
    select 1 as hour_offset
    union all
    select 2 as hour_offset
),

slot_hours as (
    -- each slot's first three hours, with the next slot's time: a window function, so
    -- the CTE is materialised and hour_utc is a column the joins below can key on
    select
        forecasts.*,
        timestampadd(hour, hour_offsets.hour_offset, forecasts.forecast_at_utc) as hour_utc,
        lead(forecasts.forecast_at_utc) over (
            partition by forecasts.city_id, hour_offsets.hour_offset order by forecasts.forecast_at_utc
        ) as next_forecast_at_utc
    from {{ ref('weather_forecasts') }} as forecasts
    cross join hour_offsets
    -- a slot is in force for at most the 3 hours after it: slots 3 hours either side suffice
    where
        forecasts.forecast_at_utc >= timestampadd(hour, -3, {{ from_utc }})
        and forecasts.forecast_at_utc <= timestampadd(hour, 3, {{ to_utc }})
),

hours as (
    -- the hours each slot is in force: until the next slot, 3 hours at most
    select *
    from slot_hours
    where
        hour_utc < coalesce(next_forecast_at_utc, timestampadd(hour, 3, forecast_at_utc))
        and hour_utc between {{ from_utc }} and {{ to_utc }}
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
    where
        (flights.codeshare_status is null or flights.codeshare_status <> 'IsCodeshared')
        and flights.scheduled_arrival_utc >= {{ from_utc }}
        and flights.scheduled_arrival_utc < timestampadd(hour, 1, {{ to_utc }})
    group by city_airports.city_id, hour_utc
),

span_offsets as (
    -- 0 to 29 hours: a board spans at most its request window (12 hours at most;
    -- test assert_flight_board_spans_fit_hourly_offsets)
    {%- for n in range(30) %}
        select {{ n }} as hour_offset
        {{ 'union all' if not loop.last }}
    {%- endfor %}
),

boards as (
    -- each fetched arrivals board's UTC span, from the hour of its first arrival, per city
    select
        city_airports.city_id,
        cast(date_format(flight_boards.first_arrival_utc, '%Y-%m-%d %H:00:00') as datetime) as first_hour_utc,
        flight_boards.last_arrival_utc
    from {{ ref('int_aerodatabox__flight_boards') }} as flight_boards
    inner join {{ ref('city_airports') }} as city_airports
        on flight_boards.airport_icao = city_airports.airport_icao
    where
        flight_boards.last_arrival_utc >= {{ from_utc }}
        and flight_boards.first_arrival_utc < timestampadd(hour, 1, {{ to_utc }})
),

covered as (
    -- the hours a fetched board spans, one row each: an equi-join for the hours below
    -- (a range join of hours and boards grows with both)
    select distinct
        boards.city_id,
        timestampadd(hour, span_offsets.hour_offset, boards.first_hour_utc) as hour_utc
    from boards
    inner join span_offsets
        on timestampadd(hour, span_offsets.hour_offset, boards.first_hour_utc) <= boards.last_arrival_utc
),

loaded as (
    -- the newest landing row among the inputs: the high-water mark stored with each row
    select max(loaded_at) as loaded_at
    from (
        select max(loaded_at) as loaded_at from {{ ref('weather_forecasts') }}
        union all
        select max(loaded_at) as loaded_at from {{ ref('flight_arrivals') }}
        union all
        select max(loaded_at) as loaded_at from {{ ref('int_aerodatabox__flight_boards') }}
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
    hours.weather_condition,
    hours.weather_condition_description,
    coalesce(arrivals.scheduled_arrivals, 0) as scheduled_arrivals,
    coalesce(arrivals.scheduled_passenger_arrivals, 0) as scheduled_passenger_arrivals,
    coalesce(arrivals.cancelled_arrivals, 0) as cancelled_arrivals,
    case when covered.city_id is not null then 1 else 0 end as has_flight_board,
    (select loaded.loaded_at from loaded) as loaded_at
from hours
left join arrivals
    on
        hours.city_id = arrivals.city_id
        and hours.hour_utc = arrivals.hour_utc
left join covered
    on
        hours.city_id = covered.city_id
        and hours.hour_utc = covered.hour_utc
